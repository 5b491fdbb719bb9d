//! The Teams app's installations in SQLite (see [`crate::store::AppInstalls`]).

use rusqlite::params;

use super::Store;
use crate::store::app_installs::PENDING;
use crate::store::{AppInstalls, DueInstall, StoreError, StoreFuture, blocking};

impl Store {
    fn due_installs_now(&self, now: i64, limit: i64, newest: bool) -> Result<Vec<DueInstall>, StoreError> {
        let conn = self.read_lock();
        let sql = format!(
            "SELECT environment_id, identifier, integration_identifier,
                 json_extract(public_json, '$.endpoint.userId'), json_extract(public_json, '$.endpoint.tenantId'),
                 app_install_attempts, app_install_next
             FROM endpoints WHERE app_install = ?1 AND app_install_next <= ?2
             ORDER BY app_install_next {} LIMIT ?3",
            if newest { "DESC" } else { "ASC" }
        );
        let mut stmt = conn
            .prepare_cached(&sql)
            .map_err(|e| StoreError::with("due installs", e))?;
        let rows = stmt
            .query_map(params![PENDING, now, limit], |r| {
                Ok(DueInstall {
                    env: r.get(0)?,
                    endpoint: r.get(1)?,
                    integration: r.get(2)?,
                    user_id: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    tenant_id: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    attempts: r.get(5)?,
                    due_at: r.get(6)?,
                })
            })
            .map_err(|e| StoreError::with("due installs", e))?;
        rows.map(|r| r.map_err(|e| StoreError::with("due installs", e)))
            .collect()
    }

    fn claim_install_now(&self, due: &DueInstall, until: i64) -> Result<bool, StoreError> {
        let claimed = self
            .lock()
            .execute(
                "UPDATE endpoints SET app_install_next = ?5
                 WHERE environment_id = ?1 AND identifier = ?2 AND app_install = ?3 AND app_install_next = ?4",
                params![due.env, due.endpoint, PENDING, due.due_at, until],
            )
            .map_err(|e| StoreError::with("claim install", e))?;
        Ok(claimed == 1)
    }

    fn settle_install_now(
        &self,
        due: &DueInstall,
        claimed: i64,
        status: &str,
        next: Option<i64>,
    ) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "UPDATE endpoints SET app_install = ?5, app_install_attempts = ?6, app_install_next = ?7
                 WHERE environment_id = ?1 AND identifier = ?2 AND app_install = ?3 AND app_install_next = ?4",
                params![due.env, due.endpoint, PENDING, claimed, status, due.attempts + 1, next],
            )
            .map_err(|e| StoreError::with("settle install", e))?;
        Ok(())
    }
}

impl AppInstalls for Store {
    fn due_installs<'a>(&'a self, now: i64, limit: i64, newest: bool) -> StoreFuture<'a, Vec<DueInstall>> {
        let store = self.clone();
        Box::pin(blocking(move || store.due_installs_now(now, limit, newest)))
    }

    fn claim_install<'a>(&'a self, due: &'a DueInstall, until: i64) -> StoreFuture<'a, bool> {
        let (store, due) = (self.clone(), due.clone());
        Box::pin(blocking(move || store.claim_install_now(&due, until)))
    }

    fn settle_install<'a>(
        &'a self,
        due: &'a DueInstall,
        claimed: i64,
        status: &'a str,
        next: Option<i64>,
    ) -> StoreFuture<'a, ()> {
        let (store, due, status) = (self.clone(), due.clone(), status.to_owned());
        Box::pin(blocking(move || {
            store.settle_install_now(&due, claimed, &status, next)
        }))
    }
}
