//! The time limit inside the plan. A query's physical plan is rewritten,
//! last of the optimizer rules, so that every operator's output passes
//! through a [`Deadline`] that checks the clock each time it is polled:
//! once the limit has passed (or the query is cancelled) the next poll
//! anywhere in the plan returns [`TimeLimit`] (or [`Cancelled`]), the error travels up and the stream is dropped, which
//! stops the work (not only the wait). A timer outside the plan cannot do
//! this for operators that never yield (a cross join feeding an aggregate
//! produces batch after batch in one poll), because it is never woken.
//! Each check is also a cooperative yield point, so such a plan shares the
//! query runtime with the others instead of holding its threads.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

/// The error a plan returns once its time limit has passed.
#[derive(Debug, thiserror::Error)]
#[error("the query ran past its time limit")]
pub struct TimeLimit;

/// The error a plan returns once it has been cancelled (a client's cancel
/// request).
#[derive(Debug, thiserror::Error)]
#[error("the query was cancelled")]
pub struct Cancelled;

/// Whether `e` (or an error it was caused by) is a `T`.
pub fn caused_by<T: std::error::Error + 'static>(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(e) = next {
        if e.is::<T>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// When a plan must stop: at a time, or when a flag is raised.
#[derive(Clone, Debug)]
pub(crate) struct Stop {
    pub at: Option<Instant>,
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Stop {
    fn check(&self) -> Result<()> {
        if self
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
        {
            return Err(DataFusionError::External(Box::new(Cancelled)));
        }
        if self.at.is_some_and(|at| Instant::now() >= at) {
            return Err(DataFusionError::External(Box::new(TimeLimit)));
        }
        Ok(())
    }
}

/// The optimizer rule that puts a [`Deadline`] above every operator.
#[derive(Debug)]
pub(crate) struct WithDeadline {
    pub stop: Stop,
}

impl PhysicalOptimizerRule for WithDeadline {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let stop = &self.stop;
        plan.transform_up(|node| {
            Ok(Transformed::yes(Arc::new(Deadline {
                input: node,
                stop: stop.clone(),
            }) as _))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "icsw_deadline"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input's rows through until it must stop, then fails.
#[derive(Debug)]
struct Deadline {
    input: Arc<dyn ExecutionPlan>,
    stop: Stop,
}

impl DisplayAs for Deadline {
    fn fmt_as(&self, _: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Deadline")
    }
}

impl ExecutionPlan for Deadline {
    fn name(&self) -> &str {
        "Deadline"
    }

    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.input.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Deadline {
            input: children.swap_remove(0),
            stop: self.stop.clone(),
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.stop.check()?;
        // Cooperative too: each poll spends the task's budget with the
        // runtime, so a plan that never waits still gives way to the other
        // queries on the query runtime (one analyst's cross join cannot hold
        // both cores for the whole of its time limit).
        Ok(datafusion::physical_plan::coop::make_cooperative(Box::pin(
            DeadlineStream {
                input: self.input.execute(partition, context)?,
                stop: self.stop.clone(),
                done: false,
            },
        )))
    }
}

struct DeadlineStream {
    input: SendableRecordBatchStream,
    stop: Stop,
    done: bool,
}

impl Stream for DeadlineStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Err(e) = self.stop.check() {
            self.done = true;
            return Poll::Ready(Some(Err(e)));
        }
        self.input.poll_next_unpin(cx)
    }
}

impl RecordBatchStream for DeadlineStream {
    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }
}
