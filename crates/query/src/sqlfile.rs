//! `sql/` files: one query each, with a header of `-- key: value` comment
//! lines giving its title, parameters and the source of its definition.
//!
//! ```sql
//! -- title: A&E attendances and emergency admissions
//! -- description: one row per provider ...
//! -- params: period_start date, period_end date, period_label text
//! -- source: returns spec section 2
//! SELECT ...
//! ```

use crate::{Error, Result};
use datafusion::arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;

/// A declared parameter: its name (used as `$name`) and type.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlParam {
    pub name: String,
    pub data_type: DataType,
}

#[derive(Clone, Debug)]
pub struct SqlFile {
    /// The file name without `.sql`, e.g. `return_ae`.
    pub name: String,
    pub title: String,
    pub description: String,
    pub source: String,
    pub params: Vec<SqlParam>,
    /// Other header keys (`kind`, `chart`, ...), in order.
    pub extra: Vec<(String, String)>,
    pub text: String,
}

fn parse_type(t: &str) -> Option<DataType> {
    Some(match t {
        "date" => DataType::Date32,
        "text" => DataType::Utf8,
        "int" | "bigint" => DataType::Int64,
        "float" | "double" => DataType::Float64,
        "bool" => DataType::Boolean,
        _ => return None,
    })
}

impl SqlFile {
    /// Parses a file's header. Every file needs a title and a source.
    pub fn parse(name: &str, text: &str) -> Result<Self> {
        let err = |message: String| Error::SqlFile {
            file: format!("{name}.sql"),
            message,
        };
        let mut f = SqlFile {
            name: name.to_string(),
            title: String::new(),
            description: String::new(),
            source: String::new(),
            params: Vec::new(),
            extra: Vec::new(),
            text: text.to_string(),
        };
        let mut last_key = String::new();
        for line in text.lines() {
            let Some(comment) = line.trim_start().strip_prefix("--") else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let comment = comment.trim();
            let (key, value) = match comment.split_once(':') {
                Some((k, v)) if !k.contains(' ') && !k.is_empty() => {
                    (k.trim().to_string(), v.trim().to_string())
                }
                // A continuation line of the previous key.
                _ => (last_key.clone(), comment.to_string()),
            };
            let append = |s: &mut String, v: &str| {
                if !s.is_empty() && !v.is_empty() {
                    s.push(' ');
                }
                s.push_str(v);
            };
            match key.as_str() {
                "title" => append(&mut f.title, &value),
                "description" => append(&mut f.description, &value),
                "source" => append(&mut f.source, &value),
                "params" => {
                    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        let (n, t) = p.split_once(' ').ok_or_else(|| {
                            err(format!("parameter {p:?} needs a name and a type"))
                        })?;
                        let data_type = parse_type(t.trim())
                            .ok_or_else(|| err(format!("parameter {n}: unknown type {t:?}")))?;
                        f.params.push(SqlParam {
                            name: n.trim().trim_start_matches('$').to_string(),
                            data_type,
                        });
                    }
                }
                "" => {}
                k => match f.extra.iter_mut().find(|(ek, _)| ek == k) {
                    Some((_, v)) => append(v, &value),
                    None => f.extra.push((k.to_string(), value)),
                },
            }
            last_key = key;
        }
        if f.title.is_empty() {
            return Err(err("the header has no title".into()));
        }
        if f.source.is_empty() {
            return Err(err("the header has no source".into()));
        }
        Ok(f)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.extra
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Checks the values given against the declared parameters (every one
    /// given, none unknown, each castable to its type) and returns them
    /// typed, ready to bind.
    pub fn bind(&self, values: &[(&str, ScalarValue)]) -> Result<Vec<(String, ScalarValue)>> {
        let err = |message: String| Error::Param(format!("{}: {message}", self.name));
        for (n, _) in values {
            if !self.params.iter().any(|p| p.name == *n) {
                return Err(err(format!("no parameter named {n}")));
            }
        }
        self.params
            .iter()
            .map(|p| {
                let (_, v) = values
                    .iter()
                    .find(|(n, _)| *n == p.name)
                    .ok_or_else(|| err(format!("parameter {} is not given", p.name)))?;
                let v = v
                    .cast_to(&p.data_type)
                    .map_err(|e| err(format!("parameter {}: {e}", p.name)))?;
                Ok((p.name.clone(), v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header() {
        let f = SqlFile::parse(
            "x",
            "-- title: A thing\n-- description: first line\n--   second line\n-- params: period_start date, label text\n-- source: returns spec s2\n-- kind: report\nSELECT 1",
        )
        .unwrap();
        assert_eq!(f.title, "A thing");
        assert_eq!(f.description, "first line second line");
        assert_eq!(f.params.len(), 2);
        assert_eq!(f.params[0].data_type, DataType::Date32);
        assert_eq!(f.get("kind"), Some("report"));
        assert!(SqlFile::parse("y", "SELECT 1").is_err());
        let bound = f
            .bind(&[
                ("period_start", ScalarValue::Utf8(Some("2026-10-01".into()))),
                ("label", ScalarValue::Utf8(Some("x".into()))),
            ])
            .unwrap();
        assert!(matches!(bound[0].1, ScalarValue::Date32(Some(_))));
        assert!(f
            .bind(&[("period_start", ScalarValue::Utf8(Some("2026-10-01".into())))])
            .is_err());
    }
}
