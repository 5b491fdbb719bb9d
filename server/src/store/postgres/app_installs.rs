//! The Teams app's installations in PostgreSQL (see [`crate::store::AppInstalls`]).

use super::{PgStore, bounded, failed};
use crate::store::app_installs::PENDING;
use crate::store::{AppInstalls, DueInstall, StoreFuture};

impl AppInstalls for PgStore {
    fn due_installs<'a>(&'a self, now: i64, limit: i64, newest: bool) -> StoreFuture<'a, Vec<DueInstall>> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let sql = format!(
                "SELECT environment_id, identifier, integration_identifier,
                     public_json::jsonb -> 'endpoint' ->> 'userId', public_json::jsonb -> 'endpoint' ->> 'tenantId',
                     app_install_attempts, app_install_next
                 FROM cc_endpoints WHERE app_install = $1 AND app_install_next <= $2
                 ORDER BY app_install_next {} LIMIT $3",
                if newest { "DESC" } else { "ASC" }
            );
            let rows = client
                .query(&sql, &[&PENDING, &now, &limit])
                .await
                .map_err(failed("due installs"))?;
            Ok(rows
                .iter()
                .map(|r| DueInstall {
                    env: r.get(0),
                    endpoint: r.get(1),
                    integration: r.get(2),
                    user_id: r.get::<_, Option<String>>(3).unwrap_or_default(),
                    tenant_id: r.get::<_, Option<String>>(4).unwrap_or_default(),
                    attempts: r.get(5),
                    due_at: r.get(6),
                })
                .collect())
        }))
    }

    fn claim_install<'a>(&'a self, due: &'a DueInstall, until: i64) -> StoreFuture<'a, bool> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            let claimed = client
                .execute(
                    "UPDATE cc_endpoints SET app_install_next = $5
                     WHERE environment_id = $1 AND identifier = $2 AND app_install = $3 AND app_install_next = $4",
                    &[&due.env, &due.endpoint, &PENDING, &due.due_at, &until],
                )
                .await
                .map_err(failed("claim install"))?;
            Ok(claimed == 1)
        }))
    }

    fn settle_install<'a>(
        &'a self,
        due: &'a DueInstall,
        claimed: i64,
        status: &'a str,
        next: Option<i64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(bounded(async move {
            let (client, _) = self.conn().await?;
            client
                .execute(
                    "UPDATE cc_endpoints SET app_install = $5, app_install_attempts = $6, app_install_next = $7
                     WHERE environment_id = $1 AND identifier = $2 AND app_install = $3 AND app_install_next = $4",
                    &[&due.env, &due.endpoint, &PENDING, &claimed, &status, &(due.attempts + 1), &next],
                )
                .await
                .map_err(failed("settle install"))?;
            Ok(())
        }))
    }
}
