//! Property tests: the loader never panics and never drops a row; written tables parse back bit-exactly;
//! batching and stratified splitting keep their promises for any size.

use super::*;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Text drawn from the characters CSV files are made of, plus a few that must be rejected.
fn csvish() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(&b"0123456789.,-+e \n\r\tx"[..]), 0..120)
        .prop_map(|b| String::from_utf8(b).expect("ascii"))
}

proptest! {
    #[test]
    fn the_loader_never_panics_and_never_drops_a_row(text in csvish()) {
        match Dataset::<f64>::from_csv_reader(text.as_bytes(), "p.csv", &CsvOptions::default()) {
            // with the default policy an accepted file has no empty line, so every line is a row
            Ok(ds) => prop_assert_eq!(ds.len(), text.lines().count()),
            Err(Error::Parse { line, column, .. }) => prop_assert!(line >= 1 && column >= 1),
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }

    #[test]
    fn arbitrary_bytes_are_an_error_or_a_dataset_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let opts = CsvOptions { delimiter: Delimiter::Whitespace, empty_lines: EmptyLines::Skip, ..Default::default() };
        let r = read_matrix_reader::<f32>(&bytes[..], "b.csv", &opts);
        let ok = matches!(r, Ok(_) | Err(Error::Parse { .. }));
        prop_assert!(ok, "unexpected result {:?}", r.err());
    }

    #[test]
    fn written_f32_tables_parse_back_bit_exactly(
        rows in 1..8usize,
        cols in 1..6usize,
        values in proptest::collection::vec(-1e7f32..1e7, 48),
        labels in proptest::collection::vec(0..7usize, 8),
    ) {
        let mut text = String::new();
        for r in 0..rows {
            for c in 0..cols {
                text += &format!("{}, ", values[r * cols + c]);
            }
            // a class label is below the number of rows (the loader's bound on the class count)
            text += &format!("{}\n", labels[r] % rows);
        }
        let ds = Dataset::<f32>::from_csv_reader(text.as_bytes(), "w.csv", &CsvOptions::default()).unwrap();
        let expect: Vec<u32> = (0..rows * cols).map(|i| values[i].to_bits()).collect();
        prop_assert_eq!(ds.features().data().iter().map(|v| v.to_bits()).collect::<Vec<_>>(), expect);
        prop_assert_eq!(ds.labels().unwrap(), labels[..rows].iter().map(|l| l % rows).collect::<Vec<_>>());
    }

    #[test]
    fn written_f64_values_parse_back_bit_exactly(values in proptest::collection::vec(any::<f64>().prop_filter("finite", |v| v.is_finite()), 1..20)) {
        let text: String = values.iter().map(|v| format!("{v:e}\n")).collect();
        let m = read_matrix_reader::<f64>(text.as_bytes(), "w.csv", &CsvOptions::default()).unwrap();
        prop_assert_eq!(m.dims(), &[values.len(), 1]);
        prop_assert_eq!(m.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>(), values.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn every_epoch_yields_each_index_at_most_once(n in 1..60usize, size in 1..20usize, drop_last: bool, seed: u64) {
        let batching = Batching::MiniBatch { size, drop_last };
        let Ok(mut b) = Batcher::new(n, batching) else {
            prop_assert!(drop_last && size > n);
            return Ok(());
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let batches: Vec<Vec<usize>> = b.epoch(&mut rng).map(<[usize]>::to_vec).collect();
        prop_assert_eq!(batches.len(), batching.batches_per_epoch(n));
        let k = batches.len();
        prop_assert!(batches.iter().enumerate().all(|(i, x)| x.len() == size || (i + 1 == k && !drop_last)));
        let mut all = batches.concat();
        all.sort_unstable();
        let len = all.len();
        all.dedup();
        prop_assert_eq!(all.len(), len, "no index twice");
        prop_assert_eq!(len, if drop_last { n / size * size } else { n });
    }

    #[test]
    fn stratified_split_gives_each_class_its_rounded_share(
        counts in proptest::collection::vec(1..30usize, 1..5),
        frac in 0.05..0.95f64,
        seed: u64,
    ) {
        let labels: Vec<usize> = counts.iter().enumerate().flat_map(|(c, &n)| std::iter::repeat_n(c, n)).collect();
        let n = labels.len();
        let ds = Dataset::new(Tensor::<f64>::zeros([n, 1]).unwrap(), Targets::classes(labels)).unwrap();
        let share: Vec<usize> = counts.iter().map(|&c| (c as f64 * frac).round() as usize).collect();
        let n_test: usize = share.iter().sum();
        match ds.stratified_split(frac, &mut StdRng::seed_from_u64(seed)) {
            Ok((train, test)) => {
                for (c, &s) in share.iter().enumerate() {
                    prop_assert_eq!(test.labels().unwrap().iter().filter(|&&l| l == c).count(), s);
                    prop_assert_eq!(train.labels().unwrap().iter().filter(|&&l| l == c).count(), counts[c] - s);
                }
            }
            Err(_) => prop_assert!(n_test == 0 || n_test == n),
        }
    }
}
