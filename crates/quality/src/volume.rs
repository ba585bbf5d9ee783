//! Volume against each trust's own history: a robust band around the
//! trailing median: median ± max(k × 1.4826 × MAD, share × median,
//! 3 × √max(median, 1) + 2).
//!
//! The median and the median absolute deviation resist the outliers that
//! make a mean-and-standard-deviation band (or an SPC chart's limits) swing
//! after a bad night; the floors keep small counts, whose noise is about
//! √count (Poisson), from flagging chance variation. A
//! day is compared with the same kind of day over the previous eight weeks:
//! the same weekday for A&E and admissions, and for referrals and
//! outpatients weekdays apart from weekends and bank holidays. A month is
//! compared with the previous twelve complete months.

/// The band's centre and half-width, from at least `min` values.
pub fn band(history: &[f64], mads: f64, min_share: f64, min: usize) -> Option<(f64, f64)> {
    if history.len() < min {
        return None;
    }
    let m = median(history);
    let dev: Vec<f64> = history.iter().map(|x| (x - m).abs()).collect();
    let mad = 1.4826 * median(&dev);
    Some((
        m,
        (mads * mad)
            .max(min_share * m)
            .max(3.0 * m.max(1.0).sqrt() + 2.0),
    ))
}

pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_band() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        // One wild value barely moves the band: median 10050, 25% floor
        // 2512.5 (above 5 x 1.4826 x 150 and 3 x 100.25 + 2).
        let (m, w) = band(
            &[
                10000.0, 10200.0, 9800.0, 10100.0, 9900.0, 40000.0, 10000.0, 10300.0,
            ],
            5.0,
            0.25,
            4,
        )
        .unwrap();
        assert_eq!(m, 10050.0);
        assert_eq!(w, 2512.5);
        // Counts near 100: the Poisson floor, 3 x sqrt(100) + 2.
        assert_eq!(band(&[100.0; 8], 5.0, 0.25, 4).unwrap().1, 32.0);
        assert!(band(&[1.0, 2.0, 3.0], 5.0, 0.25, 4).is_none());
        // Small counts: at least 3 Poisson standard deviations and 2.
        assert_eq!(band(&[4.0; 8], 5.0, 0.25, 4).unwrap().1, 8.0);
    }
}
