//! Code lists of contract sections 3 and 4. Codes are compared exactly as
//! strings: leading zeros matter and nothing is trimmed.

pub const DEPARTMENT_TYPE: &[&str] = &["01", "02", "03", "04"];
pub const ADMISSION_METHOD: &[&str] = &[
    "11", "12", "13", "21", "22", "23", "24", "25", "28", "2A", "2B", "2C", "2D", "31", "32", "81",
    "82", "83",
];
pub const PATIENT_CLASSIFICATION: &[&str] = &["1", "2", "3", "4", "5", "8", "9"];
pub const ATTENDANCE_STATUS: &[&str] = &["2", "3", "4", "5", "6", "7"];
pub const FIRST_ATTENDANCE: &[&str] = &["1", "2", "3", "4", "5"];
pub const PRIORITY: &[&str] = &["1", "2", "3"];
pub const SEX: &[&str] = &["1", "2", "9", "X"];
pub const RTT_STATUS: &[&str] = &[
    "10", "11", "12", "20", "21", "30", "31", "32", "33", "34", "35", "36", "90", "91", "92", "98",
    "99",
];
pub const ACTIVITY: &[&str] = &[
    "REFERRAL",
    "OUTPATIENT",
    "DECISION_TO_ADMIT",
    "ADMISSION",
    "ADMIN",
];

/// How a code column is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeCheck {
    /// One of a fixed list.
    List(&'static [&'static str]),
    /// Three ASCII digits; a code missing from the treatment function table
    /// is accepted with a warning.
    TreatmentFunction,
    /// Three to five upper-case letters and digits, or `NONC`.
    Commissioner,
    /// Two characters (letters or digits); format only.
    ReferralSource,
}

impl CodeCheck {
    /// Whether `v` is of the right format / in the list.
    pub fn accepts(self, v: &str) -> bool {
        match self {
            CodeCheck::List(list) => list.contains(&v),
            CodeCheck::TreatmentFunction => v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()),
            CodeCheck::Commissioner => {
                v == "NONC"
                    || ((3..=5).contains(&v.len())
                        && v.bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
            }
            CodeCheck::ReferralSource => {
                v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphanumeric())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros_matter() {
        assert!(CodeCheck::List(DEPARTMENT_TYPE).accepts("01"));
        assert!(!CodeCheck::List(DEPARTMENT_TYPE).accepts("1"));
        assert!(!CodeCheck::List(DEPARTMENT_TYPE).accepts(" 01"));
    }

    #[test]
    fn formats() {
        assert!(CodeCheck::TreatmentFunction.accepts("110"));
        assert!(!CodeCheck::TreatmentFunction.accepts("11"));
        assert!(!CodeCheck::TreatmentFunction.accepts("C_110"));
        assert!(CodeCheck::Commissioner.accepts("NONC"));
        assert!(CodeCheck::Commissioner.accepts("W2U3Z"));
        assert!(CodeCheck::Commissioner.accepts("13Q"));
        assert!(!CodeCheck::Commissioner.accepts("w2u3z"));
        assert!(!CodeCheck::Commissioner.accepts("AB"));
        assert!(!CodeCheck::Commissioner.accepts("ABCDEF"));
        assert!(CodeCheck::ReferralSource.accepts("03"));
        assert!(!CodeCheck::ReferralSource.accepts("3"));
        assert!(CodeCheck::List(ADMISSION_METHOD).accepts("2A"));
        assert!(!CodeCheck::List(ADMISSION_METHOD).accepts("2a"));
    }
}
