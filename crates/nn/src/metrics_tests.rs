use super::*;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

/// truth / pred chosen so that the matrix is [[2, 1, 1], [1, 2, 0], [0, 1, 2]] (rows actual).
fn three_class() -> ConfusionMatrix {
    let truth = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    let pred = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
    ConfusionMatrix::new(&truth, &pred, 3).unwrap()
}

#[test]
fn confusion_matrix_counts_actual_rows_and_predicted_columns() {
    let cm = three_class();
    let rows: Vec<Vec<usize>> = (0..3).map(|a| (0..3).map(|p| cm.get(a, p)).collect()).collect();
    assert_eq!(rows, [[2, 1, 1], [1, 2, 0], [0, 1, 2]]);
    assert_eq!(cm.total(), 10);
    close(cm.accuracy(), 0.6);
}

#[test]
fn per_class_scores_match_hand_computed_values() {
    let cm = three_class();
    // precision = diagonal / column sum, recall = diagonal / row sum
    let s = cm.per_class();
    close(s[0].precision, 2.0 / 3.0);
    close(s[1].precision, 2.0 / 4.0);
    close(s[2].precision, 2.0 / 3.0);
    close(s[0].recall, 2.0 / 4.0);
    close(s[1].recall, 2.0 / 3.0);
    close(s[2].recall, 2.0 / 3.0);
    close(s[0].f1, 4.0 / 7.0);
    close(s[1].f1, 4.0 / 7.0);
    close(s[2].f1, 2.0 / 3.0);
    assert_eq!(s.iter().map(|c| c.support).collect::<Vec<_>>(), [4, 3, 3]);
    let (p, r, f) = cm.macro_avg();
    close(p, 11.0 / 18.0);
    close(r, 11.0 / 18.0);
    close(f, 38.0 / 63.0);
}

#[test]
fn a_class_never_predicted_scores_zero_and_absent_classes_leave_the_macro_average() {
    // class 1 occurs but is never predicted; class 2 never occurs anywhere
    let cm = ConfusionMatrix::new(&[0, 0, 1, 1], &[0, 0, 0, 0], 3).unwrap();
    close(cm.precision(1), 0.0);
    close(cm.recall(1), 0.0);
    close(cm.f1(1), 0.0);
    close(cm.precision(0), 0.5);
    close(cm.f1(0), 2.0 / 3.0);
    let (p, r, f) = cm.macro_avg();
    close(p, 0.25);
    close(r, 0.5);
    close(f, 1.0 / 3.0);
}

#[test]
fn confusion_matrix_prints_an_aligned_table_with_labels() {
    let cm = ConfusionMatrix::new(&[0, 0, 1, 1, 1], &[0, 1, 1, 1, 1], 2).unwrap();
    let cm = cm.with_labels(&["malignant", "benign"]).unwrap();
    let expect = "\
actual \\ predicted  malignant  benign
malignant                   1       1
benign                      0       3
";
    assert_eq!(cm.to_string(), expect);
    let plain = ConfusionMatrix::new(&[0, 1], &[1, 1], 2).unwrap().to_string();
    assert_eq!(plain.lines().next().unwrap(), "actual \\ predicted  0  1");
    assert_eq!(plain.lines().nth(1).unwrap(), "0                   0  1");
}

#[test]
fn the_classification_report_prints_every_class_the_macro_average_and_the_accuracy() {
    let report = three_class().with_labels(&["ant", "bee", "cat"]).unwrap().report();
    let expect = "\
class      precision  recall      f1  support
ant           0.6667  0.5000  0.5714        4
bee           0.5000  0.6667  0.5714        3
cat           0.6667  0.6667  0.6667        3
macro avg     0.6111  0.6111  0.6032       10
accuracy                      0.6000       10
";
    assert_eq!(report.to_string(), expect);
    close(report.macro_avg.2, 38.0 / 63.0);
}

#[test]
fn confusion_matrix_rejects_bad_input() {
    let e = ConfusionMatrix::new(&[0, 1], &[0], 2).unwrap_err().to_string();
    assert_eq!(e, "confusion matrix: 2 true labels but 1 predictions");
    let e = ConfusionMatrix::new(&[0, 1], &[0, 2], 2).unwrap_err().to_string();
    assert_eq!(e, "confusion matrix: prediction 2 of row 1 is not below num_classes 2");
    assert!(ConfusionMatrix::new(&[], &[], 2).is_err());
    assert!(three_class().with_labels(&["a", "b"]).is_err());
}

#[test]
fn accuracy_and_predicted_classes() {
    close(accuracy(&[1, 1, 0], &[1, 0, 0]).unwrap(), 2.0 / 3.0);
    assert!(accuracy(&[1], &[1, 0]).is_err());
    assert!(accuracy(&[], &[]).is_err());
    let logits = Tensor::<f32>::from_vec(vec![0.1, 2.0, -1.0, 3.0, 0.0, 0.5], [2, 3]).unwrap();
    assert_eq!(predict_classes(&logits).unwrap(), [1, 0]);
}

#[test]
fn log_loss_matches_hand_values_clips_and_handles_binary_columns() {
    let p = Tensor::<f64>::from_vec(vec![0.7, 0.2, 0.1, 0.1, 0.1, 0.8], [2, 3]).unwrap();
    close(log_loss(&p, &[0, 2]).unwrap(), -(0.7f64.ln() + 0.8f64.ln()) / 2.0);
    let certain_wrong = Tensor::<f64>::from_vec(vec![1.0, 0.0], [1, 2]).unwrap();
    close(log_loss(&certain_wrong, &[1]).unwrap(), -(1e-15f64).ln());
    let binary = Tensor::<f64>::from_vec(vec![0.9, 0.4], [2, 1]).unwrap();
    close(log_loss(&binary, &[1, 0]).unwrap(), -(0.9f64.ln() + 0.6f64.ln()) / 2.0);
    assert!(log_loss(&binary, &[2, 0]).is_err());
    let e = log_loss(&Tensor::<f64>::from_vec(vec![1.5, -0.5], [1, 2]).unwrap(), &[0]).unwrap_err().to_string();
    assert_eq!(e, "log_loss: probability 1.5 outside [0, 1]");
    assert!(log_loss(&Tensor::<f64>::zeros([3]).unwrap(), &[0, 0, 0]).is_err());
}

#[test]
fn regression_metrics_match_hand_values() {
    let y = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], [4, 1]).unwrap();
    let p = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 5.0], [4, 1]).unwrap();
    close(mse(&p, &y).unwrap(), 0.25);
    close(mae(&p, &y).unwrap(), 0.25);
    close(r2(&p, &y).unwrap(), 0.8); // SS_res 1, SS_tot 5
    close(r2(&y, &y).unwrap(), 1.0);
    let mean = Tensor::<f64>::full([4, 1], 2.5).unwrap();
    close(r2(&mean, &y).unwrap(), 0.0);
    let p2 = Tensor::<f64>::from_vec(vec![2.0, 2.0, 2.0, 2.0], [4, 1]).unwrap();
    close(mae(&p2, &y).unwrap(), 1.0);
    close(mse(&p2, &y).unwrap(), 1.5);
}

#[test]
fn r2_averages_columns_and_handles_constant_targets() {
    // column 0 as above (0.8); column 1 constant target, imperfect prediction scores 0
    let y = Tensor::<f64>::from_vec(vec![1.0, 7.0, 2.0, 7.0, 3.0, 7.0, 4.0, 7.0], [4, 2]).unwrap();
    let p = Tensor::<f64>::from_vec(vec![1.0, 7.0, 2.0, 7.0, 3.0, 7.0, 5.0, 6.0], [4, 2]).unwrap();
    close(r2(&p, &y).unwrap(), 0.4);
    let e = r2(&p, &Tensor::zeros([4, 1]).unwrap()).unwrap_err().to_string();
    assert_eq!(e, "r2: predictions [4, 2] and targets [4, 1] differ in shape");
}

proptest::proptest! {
    #[test]
    fn confusion_matrix_scores_are_consistent_for_any_labels(
        pairs in proptest::collection::vec((0..4usize, 0..4usize), 1..60),
    ) {
        let (truth, pred): (Vec<usize>, Vec<usize>) = pairs.into_iter().unzip();
        let cm = ConfusionMatrix::new(&truth, &pred, 4).unwrap();
        proptest::prop_assert_eq!(cm.total(), truth.len());
        proptest::prop_assert_eq!(cm.accuracy(), accuracy(&truth, &pred).unwrap());
        let scores = cm.per_class();
        for (c, s) in scores.iter().enumerate() {
            proptest::prop_assert_eq!(s.support, truth.iter().filter(|&&t| t == c).count());
            for v in [s.precision, s.recall, s.f1] {
                proptest::prop_assert!((0.0..=1.0).contains(&v));
            }
            proptest::prop_assert!(s.f1 <= s.precision.max(s.recall) + 1e-12);
        }
        let (p, r, f) = cm.macro_avg();
        proptest::prop_assert!([p, r, f].iter().all(|v| (0.0..=1.0).contains(v)));
        proptest::prop_assert_eq!(cm.to_string().lines().count(), 5);
    }
}
