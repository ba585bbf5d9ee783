//! Bounds on a user's statement, checked before DataFusion plans it, and
//! the thread it is planned on. Every session's `sql()` passes through
//! here, so every door (the SQL endpoint, and any other that opens a
//! session) gets the same bounds.
//!
//! A statement is refused when it is longer than `max_bytes`, is more than
//! one statement, nests expressions or set operations (`UNION` chains)
//! deeper than `max_depth`, or has more than `max_nodes` expressions; and,
//! in a restricted session, when it is an `EXPLAIN` (a plan shows row
//! counts before scoping and the server's paths). What passes is planned
//! on a thread with a stack of [`PLANNING_STACK`], ample for that depth,
//! so no statement can overflow a stack and take the process down.

use crate::{Error, Result};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Expr, Query, SetExpr, Statement, Visit, Visitor};
use std::ops::ControlFlow;

/// The stack each statement is planned on.
pub const PLANNING_STACK: usize = 64 * 1024 * 1024;

/// What a statement may be.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StatementLimits {
    /// Bytes of SQL text.
    pub max_bytes: usize,
    /// Expressions within expressions, or set operations within set
    /// operations (each `UNION ALL` branch nests one deeper).
    pub max_depth: usize,
    /// Expressions in the whole statement.
    pub max_nodes: usize,
    /// Whether `EXPLAIN` may be run.
    pub explain: bool,
}

impl Default for StatementLimits {
    fn default() -> Self {
        StatementLimits {
            max_bytes: 256 * 1024,
            max_depth: 256,
            max_nodes: 100_000,
            explain: true,
        }
    }
}

/// Why a statement is refused (the first bound it breaks).
#[derive(Default)]
struct Measure {
    depth: usize,
    nodes: usize,
    max_depth: usize,
    max_nodes: usize,
}

impl Visitor for Measure {
    type Break = String;

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<String> {
        self.depth += 1;
        self.nodes += 1;
        if self.depth > self.max_depth {
            return ControlFlow::Break(format!(
                "expressions nest more than {} deep",
                self.max_depth
            ));
        }
        if self.nodes > self.max_nodes {
            return ControlFlow::Break(format!(
                "the statement has more than {} expressions",
                self.max_nodes
            ));
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<String> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<String> {
        // Set operations nest without an event of their own: measure them
        // here, without recursion, before the visit descends into them.
        let mut stack = vec![(q.body.as_ref(), 1usize)];
        while let Some((s, d)) = stack.pop() {
            if d > self.max_depth {
                return ControlFlow::Break(format!(
                    "set operations (UNION, INTERSECT, EXCEPT) nest more than {} deep",
                    self.max_depth
                ));
            }
            if let SetExpr::SetOperation { left, right, .. } = s {
                stack.push((left, d + 1));
                stack.push((right, d + 1));
            }
        }
        ControlFlow::Continue(())
    }
}

/// Checks a statement against `limits` (call it on a thread with a stack
/// of [`PLANNING_STACK`]: a deep statement is dropped there too).
pub(crate) fn check(sql: &str, limits: &StatementLimits) -> Result<()> {
    let refuse = |why: String| Err(Error::Refused(why));
    if sql.len() > limits.max_bytes {
        return refuse(format!(
            "the statement is {} bytes; at most {} are accepted",
            sql.len(),
            limits.max_bytes
        ));
    }
    let statements = DFParser::parse_sql(sql)?;
    if statements.len() != 1 {
        return refuse("one statement at a time".into());
    }
    let statement = &statements[0];
    let explain = matches!(statement, DfStatement::Explain(_))
        || matches!(statement, DfStatement::Statement(s)
            if matches!(**s, Statement::Explain { .. } | Statement::ExplainTable { .. }));
    if explain && !limits.explain {
        return refuse("EXPLAIN is not available in this session".into());
    }
    if let DfStatement::Statement(s) = statement {
        let mut m = Measure {
            max_depth: limits.max_depth,
            max_nodes: limits.max_nodes,
            ..Default::default()
        };
        if let ControlFlow::Break(why) = s.visit(&mut m) {
            return refuse(why);
        }
    }
    Ok(())
}

/// Runs `f` on a thread of its own with a stack of [`PLANNING_STACK`], in
/// the current Tokio runtime, and waits for it without blocking the
/// runtime.
pub(crate) async fn on_planning_thread<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T>> + Send + 'static,
{
    let handle = tokio::runtime::Handle::current();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("icsw-plan".into())
        .stack_size(PLANNING_STACK)
        .spawn(move || {
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle.block_on(f)))
                .unwrap_or_else(|_| {
                    Err(Error::Refused(
                        "planning the statement failed (an internal error, logged)".into(),
                    ))
                });
            let _ = tx.send(out);
        })
        .map_err(|e| Error::Refused(format!("no thread to plan on: {e}")))?;
    rx.await
        .unwrap_or_else(|_| Err(Error::Refused("planning the statement stopped".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_big_stack(sql: String, limits: StatementLimits) -> Result<()> {
        std::thread::Builder::new()
            .stack_size(PLANNING_STACK)
            .spawn(move || check(&sql, &limits))
            .unwrap()
            .join()
            .unwrap()
    }

    fn refused(sql: String) -> String {
        match on_big_stack(sql, StatementLimits::default()) {
            Err(Error::Refused(why)) => why,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn deep_wide_and_long_statements_are_refused_before_planning() {
        let plus = format!("SELECT {}", vec!["1"; 2500].join("+"));
        assert!(refused(plus).contains("nest more than 256"));
        let or = format!("SELECT 1 WHERE {}", vec!["1=1"; 2500].join(" OR "));
        assert!(refused(or).contains("nest more than 256"));
        let union = vec!["SELECT 1"; 5000].join(" UNION ALL ");
        assert!(refused(union).contains("set operations"));
        let long = format!("SELECT '{}'", "x".repeat(300_000));
        assert!(refused(long).contains("bytes"));
        assert!(refused("SELECT 1; SELECT 2".into()).contains("one statement"));
        let wide = format!("SELECT 1 WHERE 1 IN ({})", vec!["1"; 100_001].join(","));
        let limits = StatementLimits {
            max_bytes: 1 << 20,
            ..Default::default()
        };
        assert!(
            matches!(on_big_stack(wide, limits), Err(Error::Refused(w)) if w.contains("expressions"))
        );
    }

    #[test]
    fn ordinary_statements_pass_and_explain_only_where_allowed() {
        let ok = |sql: &str, explain: bool| {
            on_big_stack(
                sql.into(),
                StatementLimits {
                    explain,
                    ..Default::default()
                },
            )
        };
        assert!(ok(
            "SELECT trust, count(*) FROM ae_attendances GROUP BY trust",
            false
        )
        .is_ok());
        // 200 ORs and 200 UNION branches are within the bounds.
        let or = format!("SELECT 1 WHERE {}", vec!["1=1"; 200].join(" OR "));
        assert!(ok(&or, false).is_ok());
        assert!(ok(&vec!["SELECT 1"; 200].join(" UNION ALL "), false).is_ok());
        assert!(ok("EXPLAIN SELECT 1", true).is_ok());
        assert!(matches!(
            ok("EXPLAIN SELECT 1", false),
            Err(Error::Refused(_))
        ));
        assert!(matches!(
            ok("EXPLAIN ANALYZE SELECT 1", false),
            Err(Error::Refused(_))
        ));
    }
}
