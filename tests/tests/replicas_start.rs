//! Replicas started at the same moment: every service's migrations run from several processes'
//! pools at once against one fresh PostgreSQL database, and all of them succeed.

use berth_testkit::db::TestDatabase;

async fn migrate_all(url: String) -> anyhow::Result<()> {
    let db = berth_db::connect(&url).await?;
    let (a, b, c, d) = tokio::join!(
        berth_db::migrate::<berth_gateway::store::Migrator>(&db),
        berth_db::migrate::<berth_registry::migration::Migrator>(&db),
        berth_db::migrate::<berth_space::migration::Migrator>(&db),
        berth_db::migrate::<berth_replication::migration::Migrator>(&db),
    );
    a.and(b).and(c).and(d)
}

#[tokio::test]
async fn replicas_started_together_all_migrate() {
    for round in 0..3 {
        let database = TestDatabase::postgres().await.unwrap();
        // Four replicas of each service, each with its own connection pool.
        let replicas: Vec<_> = (0..4)
            .map(|_| tokio::spawn(migrate_all(database.url.clone())))
            .collect();
        for (i, r) in replicas.into_iter().enumerate() {
            r.await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}, replica {i}: {e}"));
        }
    }
}
