//! The few statistics the report shows: min / median / max of a set of runs.

use std::time::Duration;

/// Milliseconds, fractional.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (min, median, max) of the values; NaN for none. The median of an even count is the mean
/// of the middle two.
pub fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (values[0], median, values[n - 1])
}

/// The median, or `None` for no values.
pub fn median(values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(spread(values).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_and_even_counts() {
        assert_eq!(spread(vec![3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
        assert_eq!(spread(vec![4.0, 1.0, 3.0, 2.0]), (1.0, 2.5, 4.0));
        assert_eq!(spread(vec![7.0]), (7.0, 7.0, 7.0));
        let (min, median, max) = spread(Vec::new());
        assert!(min.is_nan() && median.is_nan() && max.is_nan());
    }

    #[test]
    fn median_and_milliseconds() {
        assert_eq!(median(vec![10.0, 30.0, 20.0]), Some(20.0));
        assert_eq!(median(Vec::new()), None);
        assert_eq!(ms(Duration::from_micros(1500)), 1.5);
    }
}
