//! The reference tables kept as CSV under `sql/reference/`, embedded so that
//! the loader (which warns on unknown treatment functions) and the query
//! layer (which registers them as tables) read the same files.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A reference table: its name in SQL and its CSV text.
pub struct ReferenceTable {
    pub name: &'static str,
    pub csv: &'static str,
}

pub const TABLES: &[ReferenceTable] = &[
    ReferenceTable {
        name: "ref_treatment_functions",
        csv: include_str!("../../../sql/reference/treatment_functions.csv"),
    },
    ReferenceTable {
        name: "ref_rtt_treatment_function_rows",
        csv: include_str!("../../../sql/reference/rtt_treatment_function_rows.csv"),
    },
    ReferenceTable {
        name: "ref_department_types",
        csv: include_str!("../../../sql/reference/department_types.csv"),
    },
    ReferenceTable {
        name: "ref_admission_methods",
        csv: include_str!("../../../sql/reference/admission_methods.csv"),
    },
    ReferenceTable {
        name: "ref_trusts",
        csv: include_str!("../../../sql/reference/trusts.csv"),
    },
];

/// Treatment function code -> RTT return row (`C_110`, `X02`, ...).
pub fn treatment_function_rows() -> &'static HashMap<String, String> {
    static MAP: OnceLock<HashMap<String, String>> = OnceLock::new();
    MAP.get_or_init(|| {
        let rows = csv_rows(TABLES[0].csv);
        let code_at = rows[0].iter().position(|h| h == "code").unwrap_or(0);
        let row_at = rows[0].iter().position(|h| h == "rtt_row").unwrap_or(3);
        rows[1..]
            .iter()
            .map(|f| (f[code_at].clone(), f[row_at].clone()))
            .collect()
    })
}

/// Whether the project's treatment function table lists `code`.
pub fn is_known_treatment_function(code: &str) -> bool {
    treatment_function_rows().contains_key(code)
}

/// Trust names as in the ODS file of NHS trusts (`shared/reference/etr.csv`).
pub fn ods_trust_name(ods: &str) -> Option<String> {
    let table = TABLES.iter().find(|t| t.name == "ref_trusts")?;
    csv_rows(table.csv)
        .into_iter()
        .skip(1)
        .find(|f| f[0] == ods)
        .map(|f| f[1].clone())
}

/// Splits a small RFC 4180 CSV text (quoted fields, doubled quotes) into
/// rows of fields. Only for the embedded reference tables.
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => fields.push(std::mem::take(&mut field)),
                (c, _) => field.push(c),
            }
        }
        fields.push(field);
        rows.push(fields);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_spec_mapping() {
        let m = treatment_function_rows();
        // The examples given in the returns spec, section 1.
        assert_eq!(m["108"], "C_110");
        assert_eq!(m["111"], "C_110");
        assert_eq!(m["115"], "C_110");
        assert_eq!(m["144"], "C_140");
        assert_eq!(m["145"], "C_140");
        assert_eq!(m["172"], "C_170");
        assert_eq!(m["173"], "C_170");
        assert_eq!(m["306"], "X02");
        assert_eq!(m["110"], "C_110");
        assert_eq!(m["502"], "C_502");
        assert_eq!(m["710"], "X03");
        assert_eq!(m["214"], "X04");
        assert_eq!(m["103"], "X05");
        assert_eq!(m["650"], "X06");
        assert!(!is_known_treatment_function("999"));
    }

    #[test]
    fn trust_names_from_ods() {
        assert_eq!(
            ods_trust_name("RYJ").as_deref(),
            Some("IMPERIAL COLLEGE HEALTHCARE NHS TRUST")
        );
        assert_eq!(
            ods_trust_name("RF4").as_deref(),
            Some("BARKING, HAVERING AND REDBRIDGE UNIVERSITY HOSPITALS NHS TRUST")
        );
    }

    #[test]
    fn every_row_is_a_return_row() {
        let rows = TABLES[1].csv;
        for (code, row) in treatment_function_rows() {
            assert!(
                rows.contains(&format!("\n{row},")),
                "{code} maps to unknown row {row}"
            );
        }
    }
}
