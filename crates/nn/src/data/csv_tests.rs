use super::*;
use rand::SeedableRng;
use std::io::Write;

fn load(text: &str, opts: &CsvOptions) -> Result<Dataset<f64>> {
    Dataset::from_csv_reader(text.as_bytes(), "t.csv", opts)
}

fn parse_err(text: &str, opts: &CsvOptions) -> (usize, usize, String) {
    match load(text, opts) {
        Err(Error::Parse { path, line, column, msg }) => {
            assert_eq!(path, "t.csv");
            (line, column, msg)
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

fn data_path(file: &str) -> String {
    format!("{}/../../examples/data/{file}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn parses_features_and_last_column_class_labels() {
    let ds = load("1.5, 2,0\n-3,4e1,2\r\n5,6,1", &CsvOptions::default()).unwrap();
    assert_eq!(ds.features().dims(), &[3, 2]);
    assert_eq!(ds.features().data(), &[1.5, 2.0, -3.0, 40.0, 5.0, 6.0]);
    assert_eq!(ds.labels(), Some(&[0, 2, 1][..]));
    assert_eq!(ds.num_classes(), Some(3));
}

#[test]
fn label_column_can_be_any_index_and_real_valued() {
    let opts = CsvOptions { label: Label::Value(Column::Index(0)), ..Default::default() };
    let ds = load("10.5,1,2\n20.25,3,4\n", &opts).unwrap();
    assert_eq!(ds.features().data(), &[1.0, 2.0, 3.0, 4.0]);
    let y = ds.targets().values().unwrap();
    assert_eq!((y.dims(), y.data()), (&[2, 1][..], &[10.5, 20.25][..]));
}

#[test]
fn header_lines_are_skipped_and_line_numbers_count_them() {
    let opts = CsvOptions { skip_lines: 2, ..Default::default() };
    let (line, column, msg) = parse_err("a,b,c\nx,y,z\n1,2,0\n1,2\n", &opts);
    assert_eq!((line, column), (4, 3));
    assert_eq!(msg, "expected 3 fields (as on line 3), found 2");
}

#[test]
fn a_row_with_too_many_fields_points_at_the_first_extra_one() {
    let (line, column, msg) = parse_err("1,2,0\n1,2,3,0\n", &CsvOptions::default());
    assert_eq!((line, column), (2, 4));
    assert!(msg.contains("found 4"), "{msg}");
}

#[test]
fn non_numbers_empty_fields_and_non_finite_values_are_errors_with_their_field() {
    let o = CsvOptions::default();
    assert_eq!(parse_err("1,2,0\n1,abc,0\n", &o), (2, 2, "expected a number, found \"abc\"".into()));
    assert_eq!(parse_err("1,,0\n", &o), (1, 2, "empty field".into()));
    assert_eq!(parse_err("1,2,0\nnan,2,0\n", &o), (2, 1, "non-finite value \"nan\"".into()));
    assert_eq!(parse_err("inf,2,0\n", &o).2, "non-finite value \"inf\"");
}

#[test]
fn class_labels_must_be_non_negative_integers() {
    let o = CsvOptions::default();
    let (line, column, msg) = parse_err("1,2,0\n1,2,2.5\n", &o);
    assert_eq!((line, column), (2, 3));
    assert_eq!(msg, "class label must be a non-negative integer, found \"2.5\"");
    assert_eq!(parse_err("1,2,-1\n", &o).2, "class label must be a non-negative integer, found \"-1\"");
    assert_eq!(parse_err("1,2,cat\n", &o).1, 3);
    assert_eq!(parse_err("1,2,\n", &o).2, "empty field");
    let ds = load("1,2,1.000e+00\n3,4,0.0\n", &o).unwrap();
    assert_eq!(ds.labels(), Some(&[1, 0][..]), "integral floats are accepted as labels");
}

#[test]
fn empty_lines_are_errors_by_default_and_skipped_on_request() {
    let text = "1,2,0\n\n3,4,1\n   \n";
    assert_eq!(
        parse_err(text, &CsvOptions::default()),
        (2, 1, "empty line (EmptyLines::Skip allows empty lines)".into())
    );
    let ds = load(text, &CsvOptions { empty_lines: EmptyLines::Skip, ..Default::default() }).unwrap();
    assert_eq!(ds.len(), 2);
}

#[test]
fn a_file_without_data_rows_is_an_error() {
    let opts = CsvOptions { skip_lines: 1, ..Default::default() };
    assert_eq!(parse_err("header\n", &opts), (2, 1, "no data rows".into()));
    assert_eq!(parse_err("", &CsvOptions::default()).2, "no data rows");
}

#[test]
fn a_label_column_past_the_row_is_an_error() {
    let opts = CsvOptions { label: Label::Class(Column::Index(5)), ..Default::default() };
    let (line, column, msg) = parse_err("1,2,0\n", &opts);
    assert_eq!((line, column), (1, 6));
    assert!(msg.contains("label column 6 does not exist in a row of 3 fields"), "{msg}");
}

#[test]
fn invalid_utf8_is_reported_at_its_field() {
    let bytes = b"1,2,0\n1,2\xff,0\n";
    match Dataset::<f32>::from_csv_reader(&bytes[..], "b.csv", &CsvOptions::default()) {
        Err(Error::Parse { line, column, msg, .. }) => {
            assert_eq!((line, column, msg.as_str()), (2, 2, "invalid UTF-8"))
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn whitespace_delimiter_ignores_runs_and_edges() {
    let opts = CsvOptions { delimiter: Delimiter::Whitespace, ..Default::default() };
    let m = read_matrix_reader::<f32>("  1 2\t\t3 \n4   5 6\n".as_bytes(), "w.txt", &opts).unwrap();
    assert_eq!((m.dims(), m.data()), (&[2, 3][..], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0][..]));
    let e = read_matrix_reader::<f32>("1 2 3\n4 5\n".as_bytes(), "w.txt", &opts).unwrap_err().to_string();
    assert_eq!(e, "w.txt:2:3: expected 3 fields (as on line 1), found 2");
}

#[test]
fn semicolon_delimiter_and_byte_order_mark_are_handled() {
    let opts = CsvOptions { delimiter: Delimiter::Char(';'), ..Default::default() };
    let ds = load("\u{feff}1;2;1\n3;4;0\n", &opts).unwrap();
    assert_eq!(ds.features().data(), &[1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn gzip_files_are_decompressed_by_extension_and_errors_name_the_path() {
    let dir = std::env::temp_dir().join(format!("tapegrad-nn-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gz = dir.join("small.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(b"1,2,1\n3,x,0\n").unwrap();
    enc.finish().unwrap();
    let e = Dataset::<f64>::from_csv(&gz, &CsvOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), format!("{}:2:2: expected a number, found \"x\"", gz.display()));
    let plain = dir.join("not-gzip.csv.gz");
    std::fs::write(&plain, "1,2,1\n").unwrap();
    assert!(matches!(Dataset::<f64>::from_csv(&plain, &CsvOptions::default()), Err(Error::Io { .. })));
    let missing = dir.join("missing.csv");
    let e = Dataset::<f64>::from_csv(&missing, &CsvOptions::default()).unwrap_err().to_string();
    assert!(e.starts_with(&missing.display().to_string()), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bundled_iris_loads_with_three_balanced_classes() {
    let iris = Dataset::<f32>::from_csv(data_path("iris.csv"), &CsvOptions { skip_lines: 1, ..Default::default() });
    let iris = iris.unwrap();
    assert_eq!((iris.len(), iris.num_features()), (150, 4));
    let labels = iris.labels().unwrap();
    assert_eq!((0..3).map(|c| labels.iter().filter(|&&l| l == c).count()).collect::<Vec<_>>(), [50, 50, 50]);
    assert_eq!(&iris.features().data()[..4], &[5.1, 3.5, 1.4, 0.2]);
}

#[test]
fn bundled_digits_load_from_gzip() {
    let digits = Dataset::<f32>::from_csv(data_path("digits.csv.gz"), &CsvOptions::default()).unwrap();
    assert_eq!((digits.len(), digits.num_features(), digits.num_classes()), (1797, 64, Some(10)));
    assert!(digits.features().data().iter().all(|&v| (0.0..=16.0).contains(&v)));
}

#[test]
fn iris_keeps_its_class_names_and_each_row_its_file_line() {
    let iris =
        Dataset::<f64>::from_csv(data_path("iris.csv"), &CsvOptions { skip_lines: 1, ..Default::default() }).unwrap();
    assert_eq!(iris.class_names().unwrap(), ["setosa", "versicolor", "virginica"]);
    assert_eq!(iris.row_origin(0).map(|(_, l)| l), Some(2), "row 0 is on line 2, after the header");
    let (train, _) = iris.stratified_split(0.3, &mut rand::rngs::StdRng::seed_from_u64(0)).unwrap();
    assert_eq!(train.class_names(), iris.class_names(), "a split keeps the names");
    let (_, line) = train.row_origin(5).unwrap();
    let in_file = iris.features().data()[(line - 2) * 4..(line - 1) * 4].to_vec();
    assert_eq!(train.features().data()[5 * 4..6 * 4], in_file[..], "the line is the row's own line");
}

#[test]
fn a_header_is_taken_for_class_names_only_in_the_n_f_names_form_that_matches_the_data() {
    let names = |text: &str| {
        load(text, &CsvOptions { skip_lines: 1, ..Default::default() }).unwrap().class_names().map(<[String]>::to_vec)
    };
    assert_eq!(names("2,1,no,yes\n0.5,0\n1.5,1\n"), Some(vec!["no".to_string(), "yes".to_string()]));
    assert_eq!(names("3,1,no,yes\n0.5,0\n1.5,1\n"), None, "row count differs");
    assert_eq!(names("2,2,no,yes\n0.5,0\n1.5,1\n"), None, "feature count differs");
    assert_eq!(names("2,1,no\n0.5,0\n1.5,1\n"), None, "one name short");
    assert_eq!(names("2,1,0,1\n0.5,0\n1.5,1\n"), None, "numbers are not names");
    assert_eq!(names("x,label\n0.5,0\n1.5,1\n"), None, "a column header is not a list of class names");
    assert_eq!(load("0.5,0\n1.5,1\n", &CsvOptions::default()).unwrap().class_names(), None);
}
