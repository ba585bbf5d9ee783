//! Independent pieces of a load (one per feed) run on every core.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Mutex;

/// Runs `jobs` to completion and gives their results in order. On a
/// multi-threaded runtime (the command line's) they run on as many threads
/// as there are cores, each taking the next job when it finishes one, so
/// at most that many run at once (a feed's checking pass holds its ids in
/// memory: the peak is that many feeds' worth). Otherwise (a current-thread
/// runtime) one after the other on this task.
pub(crate) async fn run_all<'a, F, R>(jobs: Vec<F>) -> Vec<R>
where
    F: Future<Output = R> + Send + 'a,
    R: Send + 'a,
{
    let handle = tokio::runtime::Handle::current();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    if threads < 2 || handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
        let mut out = Vec::with_capacity(jobs.len());
        for j in jobs {
            out.push(j.await);
        }
        return out;
    }
    let n = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    tokio::task::block_in_place(|| {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| loop {
                    let Some((i, job)) = queue.lock().expect("queue").pop_front() else {
                        break;
                    };
                    let r = handle.block_on(job);
                    results.lock().expect("results")[i] = Some(r);
                });
            }
        })
    });
    results
        .into_inner()
        .expect("results")
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect()
}
