//! The NHS number check of contract section 6.

/// True when `s` is exactly ten ASCII digits whose tenth digit is the
/// modulus-11 check digit of the first nine (weights 10..2; 11 becomes 0;
/// 10 means no valid number exists). Nothing is trimmed or normalised: a
/// number with spaces or a trailing blank is not in the contract's format.
pub fn is_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    u32::from(b[9] - b'0') == check
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn contract_examples() {
        assert!(is_valid("9434765919"));
        assert!(!is_valid("9434765910"));
    }

    #[test]
    fn check_digit_ten_is_invalid() {
        // 4 0 0 0 0 0 0 0 8: sum = 40 + 16 = 56, 56 mod 11 = 1, 11 - 1 = 10.
        assert!(!is_valid("4000000080"));
    }

    /// Every published test vector (shared/reference), against the plain
    /// modulus-11 column: the contract's check is exactly that.
    #[test]
    fn published_test_vectors() {
        let csv = include_str!("../../../tests/data/nhs_number_test_vectors.csv");
        let rows = crate::reference::csv_rows(csv);
        let col = rows[0]
            .iter()
            .position(|h| h == "pure_mod11_10digit")
            .unwrap();
        let mut n = 0;
        for r in &rows[1..] {
            let expect = r[col] == "True";
            assert_eq!(is_valid(&r[0]), expect, "{:?}", r[0]);
            n += 1;
        }
        assert_eq!(n, 54);
    }

    #[test]
    fn formats() {
        assert!(!is_valid("943476591"));
        assert!(!is_valid("94347659190"));
        assert!(!is_valid("943476591 "));
        assert!(!is_valid("943 476 5919"));
        assert!(!is_valid(""));
        assert!(!is_valid("a434765919"));
    }
}
