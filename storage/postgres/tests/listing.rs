//! Listing pages through the keys under a prefix by key range: LIKE's wildcards in a prefix are
//! plain characters, the empty key and non-ASCII keys are listed, and `count` agrees.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use credkit_core::{CredentialRecord, Storage};
use credkit_storage_postgres::PostgresStorage;
use support::PgServer;

async fn list_all(storage: &PostgresStorage, prefix: &str, limit: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = storage
            .list(prefix, cursor.as_deref(), limit)
            .await
            .unwrap()
            .unwrap();
        let (page_keys, next) = page.into_parts();
        keys.extend(page_keys);
        match next {
            Some(next) => cursor = Some(next),
            None => return keys,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_are_plain_text_and_counts_agree() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::new(&server.url()).unwrap();
    let keys = [
        "",
        "a",
        "a%1",
        "a%2",
        "a_2",
        "ab3",
        "a\\x",
        "é1",
        "é2",
        "\u{10FFFF}z",
        "b",
    ];
    for key in keys {
        storage.store(key, &CredentialRecord::new()).await.unwrap();
    }
    for (prefix, expected) in [
        ("a%", &["a%1", "a%2"][..]),
        ("a_", &["a_2"][..]),
        ("a\\", &["a\\x"][..]),
        ("é", &["é1", "é2"][..]),
        ("\u{10FFFF}", &["\u{10FFFF}z"][..]),
        ("zz", &[][..]),
    ] {
        for limit in [0, 1, 2, 100] {
            assert_eq!(
                list_all(&storage, prefix, limit).await,
                expected,
                "{prefix:?} {limit}"
            );
        }
        assert_eq!(storage.count(prefix).await.unwrap(), expected.len() as u64);
    }
    // A page that holds the last keys says so: no round trip for an empty one after it.
    let page = storage.list("a%", None, 2).await.unwrap().unwrap();
    assert_eq!(page.keys(), ["a%1", "a%2"]);
    assert_eq!(page.next(), None);
    let page = storage.list("a%", None, 1).await.unwrap().unwrap();
    assert_eq!(page.next(), Some("a%1"));
    let mut all = keys.map(str::to_owned).to_vec();
    all.sort();
    assert_eq!(
        list_all(&storage, "", 3).await,
        all,
        "byte order, the empty key first"
    );
    assert_eq!(storage.count("").await.unwrap(), keys.len() as u64);
    assert_eq!(storage.count("a").await.unwrap(), 6);
    storage.remove("a%1").await.unwrap();
    assert_eq!(list_all(&storage, "a%", 1).await, ["a%2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_an_index_range_scan_not_a_pattern_over_the_table() {
    support::require_postgres!();
    let server = PgServer::start();
    let storage = PostgresStorage::new(&server.url()).unwrap();
    storage.migrate().await.unwrap();
    let records = storage.records_table();
    server
        .execute(&format!(
            "INSERT INTO {records} (key, record, generation)
             SELECT 'user-' || n, '\\x7b7d', 1 FROM generate_series(1, 20000) AS n;
             ANALYZE {records};"
        ))
        .await;
    // The statement `list` makes for a first page under a prefix, and for a later one.
    let client = server.client().await;
    for sql in [
        format!("SELECT key FROM {records} WHERE key >= $1 AND key < $3 ORDER BY key LIMIT $2"),
        format!(
            "SELECT key FROM {records} WHERE key >= $1 AND key > $3 AND key < $4 ORDER BY key LIMIT $2"
        ),
    ] {
        let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![&"user-1", &11_i64, &"user-15", &"user-2"];
        let count = sql.matches('$').count();
        let plan: Vec<String> = client
            .query(&format!("EXPLAIN {sql}"), &params[..count])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains("Index Only Scan") || plan.contains("Index Scan"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
    let page = storage.list("user-1", None, 10).await.unwrap().unwrap();
    assert_eq!(page.keys().len(), 10);
    assert_eq!(storage.count("user-1").await.unwrap(), 11_111);
}
