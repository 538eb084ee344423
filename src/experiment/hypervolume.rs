//! Hypervolume of objective points, the multi-objective balance measure of the results table.

/// Hypervolume dominated by `point` with respect to the reference point `reference`
/// (every objective maximised): `Π_k max(0, point_k − reference_k)`.
///
/// For one point this is the volume of the box between the reference and the point; it is
/// 0 as soon as any objective is at or below its reference, so it rewards balance.
pub fn point_hypervolume(point: &[f64], reference: &[f64]) -> f64 {
    point
        .iter()
        .zip(reference)
        .map(|(p, r)| (p - r).max(0.0))
        .product()
}

/// Hypervolume dominated by a set of points (every objective maximised) with respect to
/// `reference`, computed exactly by inclusion–exclusion over the union of their boxes.
///
/// Exponential in the number of points: meant for the handful of points of a results
/// table (at most 16 points are accepted; more return `None`).
pub fn set_hypervolume(points: &[Vec<f64>], reference: &[f64]) -> Option<f64> {
    let n = points.len();
    if n > 16 {
        return None;
    }
    let mut total = 0.0;
    for mask in 1u32..(1u32 << n) {
        // The intersection of boxes [reference, p] is the box [reference, min over p].
        let mut corner: Vec<f64> = vec![f64::INFINITY; reference.len()];
        for (i, p) in points.iter().enumerate() {
            if mask & (1 << i) != 0 {
                for (c, v) in corner.iter_mut().zip(p) {
                    *c = c.min(*v);
                }
            }
        }
        let vol = point_hypervolume(&corner, reference);
        if mask.count_ones() % 2 == 1 {
            total += vol;
        } else {
            total -= vol;
        }
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_is_the_product_of_its_margins() {
        // (0.5 − 0)(0.8 − 0)(1.0 − 0.5) = 0.2
        assert!((point_hypervolume(&[0.5, 0.8, 1.0], &[0.0, 0.0, 0.5]) - 0.2).abs() < 1e-12);
        assert_eq!(point_hypervolume(&[0.5, 0.0], &[0.0, 0.0]), 0.0);
        assert_eq!(point_hypervolume(&[0.5, -0.1], &[0.0, 0.0]), 0.0);
    }

    #[test]
    fn two_overlapping_boxes_count_their_union() {
        // Boxes [0,1]x[0,0.5] (area 0.5) and [0,0.5]x[0,1] (area 0.5) overlap in
        // [0,0.5]x[0,0.5] (area 0.25): union = 0.75.
        let hv = set_hypervolume(&[vec![1.0, 0.5], vec![0.5, 1.0]], &[0.0, 0.0]).unwrap();
        assert!((hv - 0.75).abs() < 1e-12);
        // A dominated point adds nothing.
        let hv = set_hypervolume(&[vec![1.0, 1.0], vec![0.5, 0.5]], &[0.0, 0.0]).unwrap();
        assert!((hv - 1.0).abs() < 1e-12);
        assert!(set_hypervolume(&vec![vec![1.0]; 17], &[0.0]).is_none());
    }
}
