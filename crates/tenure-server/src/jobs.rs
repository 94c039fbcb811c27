//! Retrain jobs: `POST /v1/models/retrain` queues one and answers at once with its id; the fit
//! runs on a store connection on tokio's blocking threads; `GET /v1/jobs/{id}` reads its status.
//! Jobs live in memory only (a restart forgets them; the models they registered stay).

use std::collections::BTreeMap;
use std::sync::Mutex;

use rand::RngCore;
use serde::Serialize;
use tenure_engine::RetrainModel;

/// Jobs kept; the oldest finished ones are dropped beyond this.
pub const MAX_JOBS: usize = 200;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for the writer lock.
    Queued,
    /// Fitting.
    Running,
    /// Done; `result` holds the summary.
    Succeeded,
    /// Failed; `error` says why.
    Failed,
}

/// One retrain job, as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Job id.
    pub job_id: String,
    /// What is retrained.
    pub model: RetrainModel,
    /// Where it is.
    pub status: JobStatus,
    /// When it was queued (UTC, RFC 3339).
    pub created_at: String,
    /// When it started running.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// The fit's summary, once succeeded.
    pub result: Option<serde_json::Value>,
    /// What went wrong, once failed.
    pub error: Option<String>,
}

/// The jobs of this process.
#[derive(Debug, Default)]
pub struct Jobs {
    inner: Mutex<BTreeMap<String, Job>>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl Jobs {
    /// Queue a job for `model`, unless one for the same model is queued or running: then that
    /// job's id is the error.
    pub fn queue(&self, model: RetrainModel) -> Result<Job, String> {
        let mut jobs = self.inner.lock().map_err(|_| String::new())?;
        if let Some(j) = jobs.values().find(|j| {
            j.model == model && matches!(j.status, JobStatus::Queued | JobStatus::Running)
        }) {
            return Err(j.job_id.clone());
        }
        if jobs.len() >= MAX_JOBS {
            let oldest = jobs
                .values()
                .filter(|j| matches!(j.status, JobStatus::Succeeded | JobStatus::Failed))
                .min_by(|a, b| a.created_at.cmp(&b.created_at))
                .map(|j| j.job_id.clone());
            if let Some(id) = oldest {
                jobs.remove(&id);
            }
        }
        let job = Job {
            job_id: format!("job-{:016x}", rand::rng().next_u64()),
            model,
            status: JobStatus::Queued,
            created_at: now(),
            started_at: None,
            finished_at: None,
            result: None,
            error: None,
        };
        jobs.insert(job.job_id.clone(), job.clone());
        Ok(job)
    }

    /// Mark a job running.
    pub fn start(&self, id: &str) {
        if let Ok(mut jobs) = self.inner.lock() {
            if let Some(j) = jobs.get_mut(id) {
                j.status = JobStatus::Running;
                j.started_at = Some(now());
            }
        }
    }

    /// Record how a job ended.
    pub fn finish(&self, id: &str, outcome: Result<serde_json::Value, String>) {
        if let Ok(mut jobs) = self.inner.lock() {
            if let Some(j) = jobs.get_mut(id) {
                j.finished_at = Some(now());
                match outcome {
                    Ok(v) => {
                        j.status = JobStatus::Succeeded;
                        j.result = Some(v);
                    }
                    Err(e) => {
                        j.status = JobStatus::Failed;
                        j.error = Some(e);
                    }
                }
            }
        }
    }

    /// A job by id.
    pub fn get(&self, id: &str) -> Option<Job> {
        self.inner.lock().ok()?.get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_moves_through_its_states_and_one_model_runs_once_at_a_time() {
        let jobs = Jobs::default();
        let j = jobs.queue(RetrainModel::Value).expect("queued");
        assert_eq!(j.status, JobStatus::Queued);
        assert_eq!(
            jobs.queue(RetrainModel::Value).err(),
            Some(j.job_id.clone())
        );
        assert!(jobs.queue(RetrainModel::Churn).is_ok());
        jobs.start(&j.job_id);
        assert_eq!(
            jobs.get(&j.job_id).map(|j| j.status),
            Some(JobStatus::Running)
        );
        jobs.finish(&j.job_id, Err("no orders".into()));
        let done = jobs.get(&j.job_id).expect("kept");
        assert_eq!(done.status, JobStatus::Failed);
        assert_eq!(done.error.as_deref(), Some("no orders"));
        assert!(done.finished_at.is_some());
        // Finished, so the same model can be queued again.
        assert!(jobs.queue(RetrainModel::Value).is_ok());
        assert!(jobs.get("job-nope").is_none());
    }
}
