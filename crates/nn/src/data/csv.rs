//! CSV and gzip-compressed CSV loading. Every malformed row is an [`Error::Parse`] naming the file, the
//! 1-based line and the 1-based field; no row is ever dropped silently. The policies are on [`CsvOptions`].

use super::{Dataset, Targets};
use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use tapegrad::{DType, Float, Tensor};

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    /// One character, e.g. `,` or `;` or `\t`; an empty field is an error.
    Char(char),
    /// Any run of spaces and tabs (the diabetes file); leading and trailing whitespace is ignored.
    Whitespace,
}

/// A column of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The column with this 0-based index.
    Index(usize),
    /// The last column.
    Last,
}

/// Which column holds the target, and what kind of target it is. Every other column is a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A class index (a non-negative integer); the targets become [`Targets::Classes`].
    Class(Column),
    /// A real value; the targets become [`Targets::Values`] of shape `[N, 1]`.
    Value(Column),
}

/// What to do with a line that is empty or only whitespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyLines {
    /// Report it as an [`Error::Parse`] (the default: a blank line in the middle often means a damaged file).
    Error,
    /// Skip it.
    Skip,
}

/// How to read a CSV file. The default is comma-separated, no header, class label in the last column, empty
/// lines an error.
///
/// Policies: fields are trimmed of surrounding spaces and tabs; every data row must have as many fields as
/// the first one; numbers must be finite (`nan` and `inf` are rejected); a class label must be a non-negative
/// integer (`3`, or an integral float such as `3.0e+00`) below the number of data rows (the class count,
/// largest label + 1, sizes per-class structures, and a file cannot hold more classes than rows); empty lines are an error unless
/// [`EmptyLines::Skip`] is chosen; the final line may or may not end with a newline; CRLF line ends and a
/// UTF-8 byte-order mark are accepted. A file with no data rows is an error. Each of these is an
/// [`Error::Parse`] with the file, the 1-based line (header lines counted) and the 1-based field.
///
/// ```
/// use tapegrad_nn::data::{Column, CsvOptions, Delimiter, Label};
/// // iris.csv: one header line, four features, the class index last.
/// let iris = CsvOptions { skip_lines: 1, ..Default::default() };
/// // a whitespace-separated file with a real-valued target in the first column.
/// let reg = CsvOptions { delimiter: Delimiter::Whitespace, label: Label::Value(Column::Index(0)), ..Default::default() };
/// # let _ = (iris, reg);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field separator.
    pub delimiter: Delimiter,
    /// Number of header lines to skip before the data.
    pub skip_lines: usize,
    /// The target column (ignored by [`read_matrix`], which reads every column).
    pub label: Label,
    /// The empty-line policy.
    pub empty_lines: EmptyLines,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: Delimiter::Char(','),
            skip_lines: 0,
            label: Label::Class(Column::Last),
            empty_lines: EmptyLines::Error,
        }
    }
}

impl<T: Float> Dataset<T> {
    /// Loads a dataset from a CSV file; a path ending in `.gz` is decompressed on the fly.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be opened or decompressed; [`Error::Parse`] with the line and
    /// field for a malformed row (the policies are on [`CsvOptions`]).
    ///
    /// # Examples
    /// ```
    /// use tapegrad_nn::data::{CsvOptions, Dataset};
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/iris.csv");
    /// let iris = Dataset::<f32>::from_csv(path, &CsvOptions { skip_lines: 1, ..Default::default() }).unwrap();
    /// assert_eq!((iris.len(), iris.num_features(), iris.num_classes()), (150, 4, Some(3)));
    /// ```
    pub fn from_csv(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        Self::from_csv_reader(open(path)?, &name, opts)
    }

    /// Parses a dataset from any buffered reader; `name` stands for the file in error messages.
    ///
    /// # Errors
    /// As for [`Dataset::from_csv`].
    ///
    /// # Examples
    /// ```
    /// use tapegrad_nn::data::{CsvOptions, Dataset};
    /// let e = Dataset::<f64>::from_csv_reader("1,2,0\n1,x,1\n".as_bytes(), "t.csv", &CsvOptions::default());
    /// assert_eq!(e.unwrap_err().to_string(), "t.csv:2:2: expected a number, found \"x\"");
    /// ```
    pub fn from_csv_reader(reader: impl BufRead, name: &str, opts: &CsvOptions) -> Result<Self> {
        let p = parse::<T>(reader, name, opts, Some(opts.label))?;
        let names = p.header.as_deref().and_then(|h| class_names(h, opts.delimiter, p.rows, p.cols, &p.classes));
        let features = Tensor::from_vec(p.data, [p.rows, p.cols])?;
        let targets = match opts.label {
            Label::Class(_) => Targets::classes(p.classes),
            Label::Value(_) => Targets::Values(Tensor::from_vec(p.values, [p.rows, 1])?),
        };
        let ds = Dataset::new(features, targets)?.with_origin(name, p.lines);
        match names {
            Some(names) => ds.with_class_names(names),
            None => Ok(ds),
        }
    }
}

/// Reads every column of a CSV file (`.gz` decompressed) as a matrix `[rows, fields]`, ignoring
/// `opts.label`: for unlabeled feature files and for target files kept apart from their features.
///
/// # Errors
/// As for [`Dataset::from_csv`].
///
/// # Examples
/// ```
/// use tapegrad_nn::data::{CsvOptions, Dataset, Delimiter, Targets, read_matrix};
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/data/");
/// let ws = CsvOptions { delimiter: Delimiter::Whitespace, ..Default::default() };
/// let x = read_matrix::<f64>(format!("{dir}diabetes_data_raw.csv.gz"), &ws).unwrap();
/// let y = read_matrix::<f64>(format!("{dir}diabetes_target.csv.gz"), &ws).unwrap();
/// let diabetes = Dataset::new(x, Targets::Values(y)).unwrap();
/// assert_eq!((diabetes.len(), diabetes.num_features()), (442, 10));
/// ```
pub fn read_matrix<T: Float>(path: impl AsRef<Path>, opts: &CsvOptions) -> Result<Tensor<T>> {
    let path = path.as_ref();
    read_matrix_reader(open(path)?, &path.display().to_string(), opts)
}

/// [`read_matrix`] from any buffered reader; `name` stands for the file in error messages.
///
/// # Errors
/// As for [`Dataset::from_csv`].
pub fn read_matrix_reader<T: Float>(reader: impl BufRead, name: &str, opts: &CsvOptions) -> Result<Tensor<T>> {
    let p = parse::<T>(reader, name, opts, None)?;
    Ok(Tensor::from_vec(p.data, [p.rows, p.cols])?)
}

/// Opens a file, through a gzip decoder when its name ends in `.gz`.
fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    let io = |source| Error::Io { path: path.display().to_string(), source };
    let file = File::open(path).map_err(io)?;
    if path.extension().is_some_and(|e| e == "gz") {
        Ok(Box::new(BufReader::new(MultiGzDecoder::new(file))))
    } else {
        Ok(Box::new(BufReader::new(file)))
    }
}

/// The parsed numbers: features row-major `[rows, cols]`, plus the label column when one was asked for, the
/// 1-based line of each row and the text of the first line when it was skipped as a header.
struct Parsed<T> {
    data: Vec<T>,
    rows: usize,
    cols: usize,
    classes: Vec<usize>,
    values: Vec<T>,
    lines: Vec<usize>,
    header: Option<String>,
}

fn parse<T: Float>(mut reader: impl BufRead, name: &str, opts: &CsvOptions, label: Option<Label>) -> Result<Parsed<T>> {
    let err = |line: usize, column: usize, msg: String| Error::Parse { path: name.to_string(), line, column, msg };
    let mut p = Parsed {
        data: Vec::new(),
        rows: 0,
        cols: 0,
        classes: Vec::new(),
        values: Vec::new(),
        lines: Vec::new(),
        header: None,
    };
    // (fields per row, line of the first row, label field index)
    let mut layout: Option<(usize, usize, Option<usize>)> = None;
    let mut bytes = Vec::new();
    let mut line_no = 0;
    // (label, line, field) of the largest class label
    let mut largest_label: Option<(usize, usize, usize)> = None;
    loop {
        bytes.clear();
        let n = reader.read_until(b'\n', &mut bytes).map_err(|source| Error::Io { path: name.to_string(), source })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if line_no <= opts.skip_lines {
            if line_no == 1 {
                p.header =
                    std::str::from_utf8(&bytes).ok().map(|h| h.trim_start_matches('\u{feff}').trim_end().to_string());
            }
            continue;
        }
        let text = match std::str::from_utf8(&bytes) {
            Ok(s) => s,
            Err(e) => {
                let prefix = std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("invariant: valid prefix");
                return Err(err(line_no, field_of_prefix(prefix, opts.delimiter), "invalid UTF-8".into()));
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            match opts.empty_lines {
                EmptyLines::Skip => continue,
                EmptyLines::Error => {
                    return Err(err(line_no, 1, "empty line (EmptyLines::Skip allows empty lines)".into()));
                }
            }
        }
        let mut fields: Vec<&str> = Vec::with_capacity(layout.map_or(8, |l| l.0));
        match opts.delimiter {
            Delimiter::Char(c) => fields.extend(text.split(c).map(|f| f.trim_matches([' ', '\t']))),
            Delimiter::Whitespace => fields.extend(text.split_whitespace()),
        }
        let (width, first_line, label_at) = *layout.get_or_insert_with(|| {
            let at = label.map(|l| match l {
                Label::Class(c) | Label::Value(c) => match c {
                    Column::Index(i) => i,
                    Column::Last => fields.len() - 1,
                },
            });
            (fields.len(), line_no, at)
        });
        if let Some(at) = label_at.filter(|&at| at >= width) {
            return Err(err(
                line_no,
                at + 1,
                format!("label column {} does not exist in a row of {width} fields", at + 1),
            ));
        }
        if fields.len() != width {
            let column = fields.len().min(width) + 1;
            let msg = format!("expected {width} fields (as on line {first_line}), found {}", fields.len());
            return Err(err(line_no, column, msg));
        }
        for (k, f) in fields.iter().enumerate() {
            if Some(k) == label_at {
                match label {
                    Some(Label::Class(_)) => {
                        let class = parse_class(f).map_err(|m| err(line_no, k + 1, m))?;
                        if largest_label.is_none_or(|(l, _, _)| class > l) {
                            largest_label = Some((class, line_no, k + 1));
                        }
                        p.classes.push(class);
                    }
                    _ => p.values.push(parse_number(f).map_err(|m| err(line_no, k + 1, m))?),
                }
            } else {
                p.data.push(parse_number(f).map_err(|m| err(line_no, k + 1, m))?);
            }
        }
        p.rows += 1;
        p.lines.push(line_no);
        p.cols = width - usize::from(label_at.is_some());
    }
    if p.rows == 0 {
        return Err(err(line_no + 1, 1, "no data rows".into()));
    }
    // The class count (largest label + 1) sizes per-class structures later; a file cannot have more classes
    // than rows, so a larger label is an error here, at its line, before anything is sized by it.
    if let Some((label, line, column)) = largest_label.filter(|&(l, _, _)| l >= p.rows) {
        let msg = format!(
            "class label {label} is not below the number of rows ({}): class labels must be indices 0, 1, ... \
             of classes present in the file",
            p.rows
        );
        return Err(err(line, column, msg));
    }
    Ok(p)
}

/// The class names of a header line in scikit-learn's bundled-data form, `N,F,name_0,name_1,...` (iris.csv:
/// `150,4,setosa,versicolor,virginica`): taken only when `N` and `F` are the file's row and feature counts and
/// there is one name, not a number, per class.
fn class_names(header: &str, d: Delimiter, rows: usize, cols: usize, classes: &[usize]) -> Option<Vec<String>> {
    let fields: Vec<&str> = match d {
        Delimiter::Char(c) => header.split(c).map(|f| f.trim_matches([' ', '\t'])).collect(),
        Delimiter::Whitespace => header.split_whitespace().collect(),
    };
    let [n, f, names @ ..] = &fields[..] else { return None };
    let num_classes = classes.iter().max().map_or(0, |m| m + 1);
    let counts_match = n.parse::<usize>().ok()? == rows && f.parse::<usize>().ok()? == cols;
    let are_names = names.iter().all(|s| !s.is_empty() && s.parse::<f64>().is_err());
    (counts_match && are_names && names.len() == num_classes).then(|| names.iter().map(|s| s.to_string()).collect())
}

/// The 1-based field number in which the text `prefix` of a line ends.
fn field_of_prefix(prefix: &str, d: Delimiter) -> usize {
    match d {
        Delimiter::Char(c) => prefix.matches(c).count() + 1,
        Delimiter::Whitespace => {
            let n = prefix.split_whitespace().count();
            if prefix.ends_with(|c: char| !c.is_whitespace()) { n } else { n + 1 }
        }
    }
}

fn parse_number<T: Float>(f: &str) -> std::result::Result<T, String> {
    if f.is_empty() {
        return Err("empty field".into());
    }
    // parsed straight into T (not through f64 and a cast), so an f32 gets the nearest f32 without double rounding
    let parsed = match T::DTYPE {
        DType::F32 => f.parse::<f32>().map(|v| T::of(f64::from(v))),
        DType::F64 => f.parse::<f64>().map(T::of),
    };
    match parsed {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("non-finite value \"{f}\"")),
        Err(_) => Err(format!("expected a number, found \"{f}\"")),
    }
}

fn parse_class(f: &str) -> std::result::Result<usize, String> {
    if let Ok(v) = f.parse::<usize>() {
        return Ok(v);
    }
    match f.parse::<f64>() {
        // integral floats such as numpy's `2.000000000000000000e+00` are accepted; 2^53 keeps them exact
        Ok(v) if v >= 0.0 && v.fract() == 0.0 && v < 9_007_199_254_740_992.0 => Ok(v as usize),
        _ if f.is_empty() => Err("empty field".into()),
        _ => Err(format!("class label must be a non-negative integer, found \"{f}\"")),
    }
}

#[cfg(test)]
#[path = "csv_tests.rs"]
mod tests;
