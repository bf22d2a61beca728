//! The little statistics attribution needs: a least-squares line and a correlation.

/// A least-squares line through `(xs[i], ys[i])`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    /// Change of `y` per unit of `x`.
    pub slope: f64,
    /// Share of the variance the line explains (0..=1); 0 for a flat series, 1 for two points.
    pub r_squared: f64,
}

/// Fits a line over all points (not just the first and the last). `None` with fewer than two
/// points or when every `x` is the same.
pub fn linear_fit(xs: &[f64], ys: &[f64]) -> Option<LineFit> {
    let n = xs.len().min(ys.len());
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean_x = xs[..n].iter().sum::<f64>() / nf;
    let mean_y = ys[..n].iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs[..n].iter().zip(&ys[..n]) {
        let dx = x - mean_x;
        let dy = y - mean_y;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx <= f64::EPSILON {
        return None;
    }
    let slope = sxy / sxx;
    let r_squared = if syy <= f64::EPSILON {
        0.0
    } else {
        ((sxy * sxy) / (sxx * syy)).clamp(0.0, 1.0)
    };
    slope.is_finite().then_some(LineFit { slope, r_squared })
}

/// Pearson correlation of two equally long series; `None` when either is constant.
pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len());
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mean_a = a[..n].iter().sum::<f64>() / nf;
    let mean_b = b[..n].iter().sum::<f64>() / nf;
    let (mut saa, mut sab, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a[..n].iter().zip(&b[..n]) {
        let da = x - mean_a;
        let db = y - mean_b;
        saa += da * da;
        sab += da * db;
        sbb += db * db;
    }
    if saa <= f64::EPSILON || sbb <= f64::EPSILON {
        return None;
    }
    let r = sab / (saa.sqrt() * sbb.sqrt());
    r.is_finite().then(|| r.clamp(-1.0, 1.0))
}

/// Share of intervals in which the series went up (0..=1); `None` for fewer than two points.
pub fn rising_fraction(ys: &[f64]) -> Option<f64> {
    if ys.len() < 2 {
        return None;
    }
    let rising = ys.windows(2).filter(|w| w[1] > w[0]).count();
    Some(rising as f64 / (ys.len() - 1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_uses_every_point() {
        // First and last alone would say slope 1; the middle points pull it up.
        let fit = linear_fit(&[0.0, 1.0, 2.0, 3.0], &[0.0, 3.0, 4.0, 3.0]).unwrap();
        assert!((fit.slope - 1.0).abs() < 1e-9);
        let steady = linear_fit(&[0.0, 1.0, 2.0], &[10.0, 20.0, 30.0]).unwrap();
        assert!((steady.slope - 10.0).abs() < 1e-9);
        assert!((steady.r_squared - 1.0).abs() < 1e-9);
        assert_eq!(linear_fit(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(linear_fit(&[0.0, 1.0], &[5.0, 5.0]).unwrap().r_squared, 0.0);
    }

    #[test]
    fn correlation_and_rising_share() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(rising_fraction(&[1.0, 2.0, 2.0, 3.0]), Some(2.0 / 3.0));
    }
}
