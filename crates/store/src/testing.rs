//! The backend conformance suite: every [`Store`] implementation must pass
//! [`conformance`]. It takes `&dyn Store` so the same checks run against
//! SQLite now and PostgreSQL later. Each check creates its own API root and
//! collections with fresh names, so checks can share one database.
//!
//! Test support only: the checks assert (and so panic) on a broken backend.

use crate::{
    AddOutcome, ApiRoot, DeleteRequest, Grant, Micros, NewAccount, NewCollection, NewObject,
    ObjectQuery, Role, StatusDetail, StatusRecord, Store, StoreError, StoredObject, VersionFilter,
};

/// A fixed instant for tests: 2024-01-01T00:00:00Z.
pub const T0: Micros = 1_704_067_200_000_000;

/// Runs every check.
pub async fn conformance(store: &dyn Store) {
    api_roots_and_collections(store).await;
    accounts_tokens_and_grants(store).await;
    raw_bytes_and_duplicates(store).await;
    date_added_strictly_increasing(store).await;
    version_filters(store).await;
    spec_version_filters(store).await;
    id_type_and_added_after_filters(store).await;
    pagination_by_cursor(store).await;
    delete_versions(store).await;
    default_view_follows_writes(store).await;
    statuses(store).await;
    objects_with_status(store).await;
    parties_markings_and_policies(store).await;
    release_commits(store).await;
    ledger_logs(store).await;
    release_listing(store).await;
}

/// A fresh API root with a unique name.
pub async fn fresh_api_root(store: &dyn Store) -> String {
    let name = format!("root{}", uuid::Uuid::new_v4().simple());
    let root = ApiRoot {
        name: name.clone(),
        title: "test root".to_owned(),
        description: None,
    };
    store
        .create_api_root(&root, T0)
        .await
        .unwrap_or_else(|err| panic!("create_api_root: {err}"));
    name
}

/// A fresh collection in a fresh API root; returns its id.
pub async fn fresh_collection(store: &dyn Store) -> String {
    let root = fresh_api_root(store).await;
    store
        .create_collection(
            &NewCollection {
                api_root: root,
                title: "test collection".to_owned(),
                description: None,
                alias: None,
            },
            T0,
        )
        .await
        .unwrap_or_else(|err| panic!("create_collection: {err}"))
        .id
}

/// A minimal object version; `version` is used verbatim.
pub fn object(id: &str, object_type: &str, spec_version: &str, version: &str) -> NewObject {
    NewObject {
        object_id: id.to_owned(),
        object_type: object_type.to_owned(),
        spec_version: spec_version.to_owned(),
        version: version.to_owned(),
        raw: format!(r#"{{"type": "{object_type}", "id": "{id}", "modified": "{version}"}}"#),
    }
}

async fn add(store: &dyn Store, collection: &str, objects: &[NewObject]) -> Vec<AddOutcome> {
    store
        .add_objects(collection, objects, T0)
        .await
        .unwrap_or_else(|err| panic!("add_objects: {err}"))
}

async fn query(store: &dyn Store, query: &ObjectQuery) -> Vec<StoredObject> {
    let page = store
        .query_objects(query)
        .await
        .unwrap_or_else(|err| panic!("query_objects: {err}"));
    check_joined(store, query).await;
    page.items
}

/// The joined form of a page is the page itself: same objects in the same
/// order, same `more` and `next`.
pub async fn check_joined(store: &dyn Store, query: &ObjectQuery) {
    let mut with_raw = query.clone();
    with_raw.with_raw = true;
    let page = store
        .query_objects(&with_raw)
        .await
        .unwrap_or_else(|err| panic!("query_objects: {err}"));
    let joined = store
        .query_objects_joined(query)
        .await
        .unwrap_or_else(|err| panic!("query_objects_joined: {err}"));
    assert_eq!(joined, crate::JoinedPage::from_page(page), "{query:?}");
}

fn keys(items: &[StoredObject]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|item| (item.object_id.clone(), item.version.clone()))
        .collect()
}

fn key(id: &str, version: &str) -> (String, String) {
    (id.to_owned(), version.to_owned())
}

/// Follows `next` until `more` is false and returns every item in order.
pub async fn page_through(store: &dyn Store, mut query: ObjectQuery) -> Vec<StoredObject> {
    let mut all = Vec::new();
    loop {
        let page = store
            .query_objects(&query)
            .await
            .unwrap_or_else(|err| panic!("query_objects: {err}"));
        assert!(page.items.len() <= query.limit, "page longer than limit");
        all.extend(page.items);
        match (page.more, page.next) {
            (true, Some(next)) => query.cursor = Some(next),
            (true, None) => panic!("more without next"),
            (false, _) => return all,
        }
    }
}

pub async fn api_roots_and_collections(store: &dyn Store) {
    let root = fresh_api_root(store).await;
    let listed = store.api_roots().await.unwrap_or_default();
    assert!(listed.iter().any(|r| r.name == root), "API root listed");
    let duplicate = store
        .create_api_root(
            &ApiRoot {
                name: root.clone(),
                title: "again".to_owned(),
                description: None,
            },
            T0,
        )
        .await;
    assert!(matches!(duplicate, Err(StoreError::AlreadyExists { .. })));

    let mut ids = Vec::new();
    for title in ["first", "second", "third"] {
        let made = store
            .create_collection(
                &NewCollection {
                    api_root: root.clone(),
                    title: title.to_owned(),
                    description: Some(format!("{title} one")),
                    alias: (title == "second").then(|| "alias-two".to_owned()),
                },
                T0,
            )
            .await
            .unwrap_or_else(|err| panic!("create_collection: {err}"));
        assert!(
            uuid::Uuid::parse_str(&made.id).is_ok(),
            "collection id is a UUID"
        );
        ids.push(made.id);
    }
    let listed: Vec<String> = store
        .collections(&root)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(listed, ids, "collections in creation order");
    let by_alias = store.collection(&root, "alias-two").await.ok().flatten();
    assert_eq!(by_alias.map(|c| c.id), ids.get(1).cloned());
    let other_root = fresh_api_root(store).await;
    let first = ids.first().cloned().unwrap_or_default();
    assert_eq!(
        store.collection(&other_root, &first).await.ok().flatten(),
        None,
        "a collection is only found under its own API root"
    );
    let missing_root = store
        .create_collection(
            &NewCollection {
                api_root: format!("{root}-missing"),
                title: "x".to_owned(),
                description: None,
                alias: None,
            },
            T0,
        )
        .await;
    assert!(matches!(missing_root, Err(StoreError::NotFound { .. })));
}

pub async fn accounts_tokens_and_grants(store: &dyn Store) {
    let readable = fresh_collection(store).await;
    let writable = fresh_collection(store).await;
    let hidden = fresh_collection(store).await;
    let name = format!("user-{}", uuid::Uuid::new_v4().simple());
    let account = store
        .create_account(
            &NewAccount {
                name: name.clone(),
                password_hash: Some("$argon2id$fake".to_owned()),
                role: Role::Partner,
                party: Some("Partner A".to_owned()),
                read: vec![readable.clone()],
                write: vec![writable.clone()],
            },
            T0,
        )
        .await
        .unwrap_or_else(|err| panic!("create_account: {err}"));
    assert_eq!(account.role, Role::Partner);
    let (found, hash) = store
        .account_by_name(&name)
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("account not found by name"));
    assert_eq!(found, account);
    assert_eq!(hash.as_deref(), Some("$argon2id$fake"));

    let grant = |collection: String| async move {
        store
            .grant(account.id, &collection)
            .await
            .unwrap_or_default()
    };
    assert_eq!(
        grant(readable.clone()).await,
        Grant {
            can_read: true,
            can_write: false
        }
    );
    assert_eq!(
        grant(writable.clone()).await,
        Grant {
            can_read: false,
            can_write: true
        }
    );
    assert_eq!(grant(hidden.clone()).await, Grant::default());
    // The combined question answers as the two separate ones do.
    for collection in [&readable, &writable, &hidden] {
        let mut api_root = None;
        for root in store.api_roots().await.unwrap_or_default() {
            let listed = store.collections(&root.name).await.unwrap_or_default();
            if listed.iter().any(|c| &c.id == collection) {
                api_root = Some(root.name);
            }
        }
        let api_root = api_root.unwrap_or_else(|| panic!("collection {collection} not listed"));
        let combined = store
            .collection_with_grant(&api_root, collection, account.id)
            .await
            .unwrap_or_else(|err| panic!("collection_with_grant: {err}"));
        let stored = store.collection(&api_root, collection).await.ok().flatten();
        let granted = grant(collection.clone()).await;
        assert!(stored.is_some());
        assert_eq!(combined, stored.map(|c| (c, granted)), "{collection}");
        let elsewhere = store
            .collection_with_grant("no-such-root", collection, account.id)
            .await
            .ok()
            .flatten();
        assert_eq!(
            elsewhere, None,
            "a collection answers only under its API root"
        );
    }
    assert_eq!(
        store
            .collection_with_grant("api1", "no-such-collection", account.id)
            .await
            .ok()
            .flatten(),
        None
    );

    let again = store
        .create_account(
            &NewAccount {
                name: name.clone(),
                password_hash: None,
                role: Role::Analyst,
                party: None,
                read: Vec::new(),
                write: Vec::new(),
            },
            T0,
        )
        .await;
    assert!(matches!(again, Err(StoreError::AlreadyExists { .. })));
    let bad_grant = store
        .create_account(
            &NewAccount {
                name: format!("{name}-2"),
                password_hash: None,
                role: Role::Analyst,
                party: None,
                read: vec![uuid::Uuid::new_v4().to_string()],
                write: Vec::new(),
            },
            T0,
        )
        .await;
    assert!(matches!(bad_grant, Err(StoreError::NotFound { .. })));
    assert!(
        store
            .account_by_name(&format!("{name}-2"))
            .await
            .ok()
            .flatten()
            .is_none(),
        "a failed account creation leaves nothing behind"
    );

    let token_hash = format!("{:064x}", account.id);
    store
        .add_token(&name, &token_hash, Some("ci"), T0)
        .await
        .unwrap_or_else(|err| panic!("add_token: {err}"));
    let by_token = store.account_by_token(&token_hash).await.ok().flatten();
    assert_eq!(by_token.map(|a| a.id), Some(account.id));
    assert_eq!(store.account_by_token("0").await.ok().flatten(), None);
    let orphan = store.add_token("no-such-user", "abc", None, T0).await;
    assert!(matches!(orphan, Err(StoreError::NotFound { .. })));
}

pub async fn raw_bytes_and_duplicates(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let mut first = object(
        "indicator--1",
        "indicator",
        "2.1",
        "2024-01-01T00:00:00.000000000Z",
    );
    // Odd spacing, key order and escapes must come back untouched.
    first.raw =
        "{ \"type\":\"indicator\" ,\n \"id\": \"indicator--1\", \"name\": \"caf\\u00e9 ☕\"}"
            .to_owned();
    let outcomes = add(store, &collection, std::slice::from_ref(&first)).await;
    assert!(matches!(outcomes.as_slice(), [AddOutcome::Stored { .. }]));
    let again = add(store, &collection, &[first.clone(), first.clone()]).await;
    assert_eq!(again, vec![AddOutcome::Duplicate, AddOutcome::Duplicate]);
    let items = query(store, &ObjectQuery::new(&collection, 10)).await;
    assert_eq!(items.len(), 1, "duplicates are not stored twice");
    assert_eq!(
        items.first().map(|i| i.raw.as_str()),
        Some(first.raw.as_str())
    );

    let mut manifest = ObjectQuery::new(&collection, 10);
    manifest.with_raw = false;
    let items = query(store, &manifest).await;
    assert_eq!(items.first().map(|i| i.raw.as_str()), Some(""));

    let missing = store
        .add_objects(&uuid::Uuid::new_v4().to_string(), &[first], T0)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
}

pub async fn date_added_strictly_increasing(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let mut seen = Vec::new();
    for batch in 0..3 {
        let objects: Vec<NewObject> = (0..5)
            .map(|i| object(&format!("note--{batch}-{i}"), "note", "2.1", "v"))
            .collect();
        // The same `now` every time, even an earlier one: date_added must
        // still increase.
        let now = T0 - batch;
        for outcome in store
            .add_objects(&collection, &objects, now)
            .await
            .unwrap_or_default()
        {
            match outcome {
                AddOutcome::Stored { date_added } => {
                    assert!(date_added >= T0 - 2);
                    seen.push(date_added);
                }
                AddOutcome::Duplicate => panic!("fresh objects reported as duplicates"),
            }
        }
    }
    assert_eq!(seen.len(), 15);
    assert!(seen.windows(2).all(|w| matches!(w, [a, b] if a < b)));
    let stored: Vec<Micros> = query(store, &ObjectQuery::new(&collection, 100))
        .await
        .iter()
        .map(|i| i.date_added)
        .collect();
    assert_eq!(stored, seen, "served in date_added order");
}

pub async fn version_filters(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let (v1, v2, v3) = ("2024-01-01", "2024-02-01", "2024-03-01");
    // Added out of version order: "first"/"last" follow the version, not
    // the insertion order.
    add(store, &collection, &[object("a--1", "a", "2.1", v2)]).await;
    add(store, &collection, &[object("a--1", "a", "2.1", v1)]).await;
    add(store, &collection, &[object("a--1", "a", "2.1", v3)]).await;
    add(store, &collection, &[object("b--1", "b", "2.1", v1)]).await;

    let run = |versions: VersionFilter| {
        let collection = collection.clone();
        async move {
            let mut q = ObjectQuery::new(collection, 100);
            q.versions = versions;
            keys(&query(store, &q).await)
        }
    };
    assert_eq!(
        run(VersionFilter::last()).await,
        vec![key("a--1", v3), key("b--1", v1)]
    );
    assert_eq!(
        run(VersionFilter::Select {
            first: true,
            last: false,
            exact: Vec::new()
        })
        .await,
        vec![key("a--1", v1), key("b--1", v1)]
    );
    assert_eq!(
        run(VersionFilter::All).await,
        vec![
            key("a--1", v2),
            key("a--1", v1),
            key("a--1", v3),
            key("b--1", v1)
        ]
    );
    assert_eq!(
        run(VersionFilter::Select {
            first: false,
            last: false,
            exact: vec![v2.to_owned()]
        })
        .await,
        vec![key("a--1", v2)]
    );
    assert_eq!(
        run(VersionFilter::Select {
            first: true,
            last: true,
            exact: vec![v2.to_owned()]
        })
        .await,
        vec![
            key("a--1", v2),
            key("a--1", v1),
            key("a--1", v3),
            key("b--1", v1)
        ]
    );
}

pub async fn spec_version_filters(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    add(
        store,
        &collection,
        &[
            object("m--1", "m", "2.0", "2024-01-01"),
            object("m--1", "m", "2.1", "2023-01-01"),
            object("n--1", "n", "2.0", "2024-01-01"),
        ],
    )
    .await;
    let run = |spec_versions: Vec<String>, versions: VersionFilter| {
        let collection = collection.clone();
        async move {
            let mut q = ObjectQuery::new(collection, 100);
            q.spec_versions = spec_versions;
            q.versions = versions;
            query(store, &q)
                .await
                .into_iter()
                .map(|i| (i.object_id, i.spec_version))
                .collect::<Vec<_>>()
        }
    };
    let pair = |id: &str, spec: &str| (id.to_owned(), spec.to_owned());
    // Default: the newest spec version of each object, whatever its date.
    assert_eq!(
        run(Vec::new(), VersionFilter::All).await,
        vec![pair("m--1", "2.1"), pair("n--1", "2.0")]
    );
    assert_eq!(
        run(vec!["2.0".to_owned()], VersionFilter::last()).await,
        vec![pair("m--1", "2.0"), pair("n--1", "2.0")]
    );
    assert_eq!(
        run(
            vec!["2.0".to_owned(), "2.1".to_owned()],
            VersionFilter::last()
        )
        .await,
        vec![pair("m--1", "2.0"), pair("n--1", "2.0")],
        "last is the newest version among the requested spec versions"
    );
}

pub async fn id_type_and_added_after_filters(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let outcomes = add(
        store,
        &collection,
        &[
            object("x--1", "x", "2.1", "v"),
            object("y--1", "y", "2.1", "v"),
            object("z--1", "z", "2.1", "v"),
        ],
    )
    .await;
    let added: Vec<Micros> = outcomes
        .iter()
        .filter_map(|o| match o {
            AddOutcome::Stored { date_added } => Some(*date_added),
            AddOutcome::Duplicate => None,
        })
        .collect();
    let ids_of = |items: Vec<StoredObject>| -> Vec<String> {
        items.into_iter().map(|i| i.object_id).collect()
    };
    let mut q = ObjectQuery::new(&collection, 100);
    q.ids = vec!["z--1".to_owned(), "x--1".to_owned(), "nope--1".to_owned()];
    assert_eq!(ids_of(query(store, &q).await), vec!["x--1", "z--1"]);
    let mut q = ObjectQuery::new(&collection, 100);
    q.types = vec!["y".to_owned(), "z".to_owned()];
    assert_eq!(ids_of(query(store, &q).await), vec!["y--1", "z--1"]);
    let mut q = ObjectQuery::new(&collection, 100);
    q.added_after = added.first().copied();
    assert_eq!(
        ids_of(query(store, &q).await),
        vec!["y--1", "z--1"],
        "added_after is strict"
    );
    assert!(
        store
            .object_exists(&collection, "y--1")
            .await
            .unwrap_or(false)
    );
    assert!(
        !store
            .object_exists(&collection, "w--1")
            .await
            .unwrap_or(true)
    );
}

pub async fn pagination_by_cursor(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let objects: Vec<NewObject> = (0..23)
        .map(|i| object(&format!("p--{i:02}"), "p", "2.1", "v"))
        .collect();
    add(store, &collection, &objects).await;
    for limit in [1, 2, 5, 22, 23, 24] {
        let items = page_through(store, ObjectQuery::new(&collection, limit)).await;
        let ids: Vec<String> = items.into_iter().map(|i| i.object_id).collect();
        let expected: Vec<String> = objects.iter().map(|o| o.object_id.clone()).collect();
        assert_eq!(ids, expected, "limit {limit}");
    }
    let page = store
        .query_objects(&ObjectQuery::new(&collection, 23))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(!page.more && page.next.is_none(), "exact fit has no more");
    let page = store
        .query_objects(&ObjectQuery::new(&collection, 22))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(page.more && page.next.is_some());
    // The joined form pages the same way, from every start.
    for limit in [1, 5, 22, 23, 24] {
        let mut page_query = ObjectQuery::new(&collection, limit);
        loop {
            check_joined(store, &page_query).await;
            let joined = store
                .query_objects_joined(&page_query)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            match joined.next {
                Some(next) => page_query.cursor = Some(next),
                None => break,
            }
        }
    }
}

pub async fn delete_versions(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    add(
        store,
        &collection,
        &[
            object("d--1", "d", "2.1", "1"),
            object("d--1", "d", "2.1", "2"),
            object("d--1", "d", "2.1", "3"),
            object("e--1", "e", "2.1", "1"),
        ],
    )
    .await;
    let delete = |versions: VersionFilter| DeleteRequest {
        collection_id: collection.clone(),
        object_id: "d--1".to_owned(),
        versions,
        spec_versions: Vec::new(),
    };
    let removed = store
        .delete_object(&delete(VersionFilter::Select {
            first: true,
            last: false,
            exact: Vec::new(),
        }))
        .await
        .unwrap_or(0);
    assert_eq!(removed, 1);
    let mut all = ObjectQuery::new(&collection, 100);
    all.versions = VersionFilter::All;
    assert_eq!(
        keys(&query(store, &all).await),
        vec![key("d--1", "2"), key("d--1", "3"), key("e--1", "1")]
    );
    let removed = store
        .delete_object(&delete(VersionFilter::All))
        .await
        .unwrap_or(0);
    assert_eq!(removed, 2);
    assert!(
        !store
            .object_exists(&collection, "d--1")
            .await
            .unwrap_or(true)
    );
    assert_eq!(keys(&query(store, &all).await), vec![key("e--1", "1")]);
    let removed = store
        .delete_object(&delete(VersionFilter::All))
        .await
        .unwrap_or(1);
    assert_eq!(removed, 0);
}

/// `migrator` cut back to the migrations before the one that added the
/// `latest` mark, to write a database as it was before that upgrade.
pub fn migrations_before_latest_mark(
    mut migrator: sqlx::migrate::Migrator,
) -> sqlx::migrate::Migrator {
    let flag = migrator
        .migrations
        .iter()
        .position(|migration| migration.description.contains("latest flag"))
        .unwrap_or_else(|| panic!("no latest-flag migration"));
    migrator.migrations = std::borrow::Cow::Owned(migrator.migrations[..flag].to_vec());
    migrator
}

/// Versions written straight into `objects` before the `latest` mark
/// existed, as (object id, spec version, version), in `date_added` order.
pub const ROWS_BEFORE_LATEST_MARK: [(&str, &str, &str); 7] = [
    ("x--1", "2.1", "2"),
    ("x--1", "2.1", "3"),
    ("x--1", "2.1", "1"),
    ("x--1", "2.0", "9"),
    ("y--1", "2.0", "5"),
    ("z--1", "2.1", "1"),
    ("z--1", "2.0", "7"),
];

/// After the upgrade, collection `collection`'s default view is the
/// greatest (spec version, version) of each of [`ROWS_BEFORE_LATEST_MARK`].
pub async fn check_view_after_latest_mark_upgrade(store: &dyn Store, collection: &str) {
    let page = store
        .query_objects(&ObjectQuery::new(collection, 100))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let view: Vec<(&str, &str, &str)> = page
        .items
        .iter()
        .map(|item| {
            (
                item.object_id.as_str(),
                item.spec_version.as_str(),
                item.version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        view,
        vec![
            ("x--1", "2.1", "3"),
            ("y--1", "2.0", "5"),
            ("z--1", "2.1", "1")
        ]
    );
}

/// TAXII's default view (newest spec version, then last version) through
/// envelopes that add versions out of order, repeat them, mix spec versions
/// and delete: after every step it equals the view computed here from all
/// stored versions.
pub async fn default_view_follows_writes(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let expected = |all: &[StoredObject]| {
        let mut newest: std::collections::BTreeMap<&str, &StoredObject> = Default::default();
        for item in all {
            let entry = newest.entry(&item.object_id).or_insert(item);
            if (&item.spec_version, &item.version) > (&entry.spec_version, &entry.version) {
                *entry = item;
            }
        }
        let mut view: Vec<&StoredObject> = newest.into_values().collect();
        view.sort_by_key(|item| item.date_added);
        view.iter()
            .map(|item| (item.object_id.clone(), item.version.clone()))
            .collect::<Vec<_>>()
    };
    let check = |step: &'static str| {
        let collection = collection.clone();
        async move {
            let mut all = ObjectQuery::new(&collection, 1000);
            all.versions = VersionFilter::All;
            all.spec_versions = vec!["2.0".to_owned(), "2.1".to_owned()];
            let all = query(store, &all).await;
            let default = query(store, &ObjectQuery::new(&collection, 1000)).await;
            assert_eq!(keys(&default), expected(&all), "after {step}");
            // Paged one by one, the default view is the same.
            let paged = page_through(store, ObjectQuery::new(&collection, 1)).await;
            assert_eq!(keys(&paged), expected(&all), "paged after {step}");
        }
    };
    add(store, &collection, &[object("x--1", "x", "2.1", "2")]).await;
    check("one version").await;
    add(
        store,
        &collection,
        &[
            object("x--1", "x", "2.1", "1"),
            object("x--1", "x", "2.1", "3"),
            object("x--1", "x", "2.0", "5"),
            object("y--1", "y", "2.0", "9"),
            object("x--1", "x", "2.1", "3"),
        ],
    )
    .await;
    check("older, newer and repeated versions in one envelope").await;
    add(
        store,
        &collection,
        &[
            object("y--1", "y", "2.1", "1"),
            object("z--1", "z", "2.1", "1"),
        ],
    )
    .await;
    check("a newer spec version with an older version").await;
    let delete = |object_id: &str, versions: VersionFilter, spec: &[&str]| DeleteRequest {
        collection_id: collection.clone(),
        object_id: object_id.to_owned(),
        versions,
        spec_versions: spec.iter().map(|s| (*s).to_owned()).collect(),
    };
    let removed = store
        .delete_object(&delete("x--1", VersionFilter::last(), &[]))
        .await
        .unwrap_or(0);
    assert_eq!(removed, 1, "the default view's x--1");
    check("deleting the latest version").await;
    let removed = store
        .delete_object(&delete("x--1", VersionFilter::All, &["2.1"]))
        .await
        .unwrap_or(0);
    assert_eq!(removed, 2);
    check("deleting a whole spec version").await;
    let removed = store
        .delete_object(&delete("y--1", VersionFilter::All, &["2.0"]))
        .await
        .unwrap_or(0);
    assert_eq!(removed, 1);
    check("deleting an older spec version").await;
    add(store, &collection, &[object("x--1", "x", "2.1", "0")]).await;
    check("re-adding after deletes").await;
}

pub async fn statuses(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let root = store
        .api_roots()
        .await
        .unwrap_or_default()
        .into_iter()
        .next()
        .map(|r| r.name)
        .unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    let mut status = StatusRecord {
        id: id.clone(),
        api_root: root.clone(),
        collection_id: collection,
        account_id: 7,
        request_timestamp: T0,
        total_count: 2,
        success_count: 1,
        failure_count: 1,
        pending_count: 0,
        successes: vec![StatusDetail {
            id: "a--1".to_owned(),
            version: "v".to_owned(),
            message: None,
        }],
        failures: vec![StatusDetail {
            id: "b--1".to_owned(),
            version: "v".to_owned(),
            message: Some("bad".to_owned()),
        }],
        pendings: Vec::new(),
    };
    store
        .put_status(&status)
        .await
        .unwrap_or_else(|err| panic!("put_status: {err}"));
    assert_eq!(
        store.status(&root, &id).await.ok().flatten(),
        Some(status.clone())
    );
    status.success_count = 2;
    store
        .put_status(&status)
        .await
        .unwrap_or_else(|err| panic!("put_status: {err}"));
    assert_eq!(
        store
            .status(&root, &id)
            .await
            .ok()
            .flatten()
            .map(|s| s.success_count),
        Some(2)
    );
    assert_eq!(store.status("elsewhere", &id).await.ok().flatten(), None);
}

/// Objects and their status in one transaction: the builder sees the
/// outcomes in order; a failed insert leaves neither objects nor status.
pub async fn objects_with_status(store: &dyn Store) {
    let collection = fresh_collection(store).await;
    let root = "status-root".to_owned();
    let status_for = |id: String, collection: String| {
        let root = root.clone();
        move |outcomes: &[AddOutcome]| StatusRecord {
            id: id.clone(),
            api_root: root.clone(),
            collection_id: collection.clone(),
            account_id: 1,
            request_timestamp: T0,
            total_count: outcomes.len() as u64,
            success_count: outcomes.len() as u64,
            failure_count: 0,
            pending_count: 0,
            successes: outcomes
                .iter()
                .map(|outcome| StatusDetail {
                    id: "s--1".to_owned(),
                    version: "v".to_owned(),
                    message: matches!(outcome, AddOutcome::Duplicate).then(|| "dup".to_owned()),
                })
                .collect(),
            failures: Vec::new(),
            pendings: Vec::new(),
        }
    };
    let first = uuid::Uuid::new_v4().to_string();
    let objects = [
        object("s--1", "s", "2.1", "1"),
        object("s--1", "s", "2.1", "1"),
    ];
    let (outcomes, record) = store
        .add_objects_with_status(
            &collection,
            &objects,
            T0,
            &status_for(first.clone(), collection.clone()),
        )
        .await
        .unwrap_or_else(|err| panic!("add_objects_with_status: {err}"));
    assert!(matches!(
        outcomes[..],
        [AddOutcome::Stored { .. }, AddOutcome::Duplicate]
    ));
    assert_eq!(
        record
            .successes
            .iter()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>(),
        vec![None, Some("dup".to_owned())]
    );
    assert_eq!(
        store.status(&root, &first).await.ok().flatten(),
        Some(record)
    );
    assert!(exists(store, &collection, "s--1").await);

    // Every object rejected: nothing to insert, the status is still kept.
    let empty = uuid::Uuid::new_v4().to_string();
    let (outcomes, _) = store
        .add_objects_with_status(
            &collection,
            &[],
            T0,
            &status_for(empty.clone(), collection.clone()),
        )
        .await
        .unwrap_or_else(|err| panic!("add_objects_with_status: {err}"));
    assert!(outcomes.is_empty());
    assert!(store.status(&root, &empty).await.ok().flatten().is_some());

    // A failed insert (no such collection) writes no status either.
    let failed = uuid::Uuid::new_v4().to_string();
    let missing = "collection-that-does-not-exist".to_owned();
    let outcome = store
        .add_objects_with_status(
            &missing,
            &objects,
            T0,
            &status_for(failed.clone(), missing.clone()),
        )
        .await;
    assert!(outcome.is_err());
    assert_eq!(store.status(&root, &failed).await.ok().flatten(), None);
}

fn new_party(name: &str, api_root: &str, home: bool) -> crate::NewParty {
    crate::NewParty {
        name: name.to_owned(),
        identity_id: format!("identity--{}", uuid::Uuid::new_v4()),
        country: "XX".to_owned(),
        groups: vec!["neighbours".to_owned()],
        designations: vec![crate::Designation {
            name: "national-list".to_owned(),
            since: Some("2020-01-01".to_owned()),
        }],
        home,
        api_root: api_root.to_owned(),
    }
}

/// Parties with their collections, marking dispositions, policy versions,
/// settings.
pub async fn parties_markings_and_policies(store: &dyn Store) {
    let root = fresh_api_root(store).await;
    let name = format!("partner-{}", uuid::Uuid::new_v4().simple());
    let party = store
        .create_party(&new_party(&name, &root, false), T0)
        .await
        .unwrap_or_else(|err| panic!("create_party: {err}"));
    let (Some(outbound), Some(inbound)) = (&party.outbound, &party.inbound) else {
        panic!("a partner gets two collections")
    };
    assert_ne!(outbound, inbound);
    let listed = store
        .collections(&root)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(listed.len(), 2);
    assert_eq!(
        store
            .party(&name)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        Some(party.clone())
    );
    assert!(matches!(
        store
            .create_party(&new_party(&name, &root, false), T0)
            .await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert!(
        store
            .parties()
            .await
            .unwrap_or_else(|err| panic!("{err}"))
            .contains(&party)
    );

    let marking = format!("marking-definition--{}", uuid::Uuid::new_v4());
    for (kind, to) in [
        (crate::DispositionKind::Withhold, vec![]),
        (crate::DispositionKind::ReleaseTo, vec![name.clone()]),
    ] {
        let disposition = crate::MarkingDisposition {
            marking_id: marking.clone(),
            kind,
            release_to: to,
        };
        store
            .set_marking_disposition(&disposition, T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let all = store
            .marking_dispositions()
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let found: Vec<_> = all.iter().filter(|d| d.marking_id == marking).collect();
        assert_eq!(found, vec![&disposition], "the last disposition wins");
    }

    for (version, text) in [("v-a", "text a"), ("v-b", "text b"), ("v-a", "text a")] {
        store
            .add_policy_version(version, text, T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let current = store
            .current_policy()
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(
            current.map(|p| (p.version, p.text)),
            Some((version.to_owned(), text.to_owned()))
        );
    }

    let key = format!("k-{}", uuid::Uuid::new_v4().simple());
    let first = store
        .release_setting(&key, "one")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let second = store
        .release_setting(&key, "two")
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!((first.as_str(), second.as_str()), ("one", "one"));
}

/// Releases: pending → released writes objects, derivations and approval in
/// one transaction; a stale expected state or a conflicting version writes
/// nothing at all.
pub async fn release_commits(store: &dyn Store) {
    let root = fresh_api_root(store).await;
    let internal = store
        .create_collection(
            &NewCollection {
                api_root: root.clone(),
                title: "internal".to_owned(),
                description: None,
                alias: None,
            },
            T0,
        )
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .id;
    let name = format!("partner-{}", uuid::Uuid::new_v4().simple());
    let party = store
        .create_party(&new_party(&name, &root, false), T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let outbound = party.outbound.clone().unwrap_or_default();

    let source_id = format!("indicator--{}", uuid::Uuid::new_v4());
    add(
        store,
        &internal,
        &[
            object(&source_id, "indicator", "2.1", "v1"),
            object(&source_id, "indicator", "2.1", "v2"),
        ],
    )
    .await;
    let found = store
        .internal_object(&source_id)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        found.map(|o| o.version),
        Some("v2".to_owned()),
        "newest internal version"
    );

    let unknown = format!("indicator--{}", uuid::Uuid::new_v4());
    let many = store
        .internal_objects(&[unknown, source_id.clone(), source_id.clone()])
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        many.iter()
            .map(|o| (o.object_id.as_str(), o.version.as_str()))
            .collect::<Vec<_>>(),
        vec![(source_id.as_str(), "v2")],
        "the newest version of each id that exists, once"
    );

    let derivative_id = format!("indicator--{}", uuid::Uuid::new_v4());
    let released = object(&derivative_id, "indicator", "2.1", "d1");
    // A partner's own collections are not internal.
    add(
        store,
        &outbound,
        &[object(
            &format!("note--{}", uuid::Uuid::new_v4()),
            "note",
            "2.1",
            "x",
        )],
    )
    .await;

    let release_id = format!("release--{}", uuid::Uuid::new_v4());
    let mut record = crate::ReleaseRecord {
        id: release_id.clone(),
        party: name.clone(),
        requester: "alice".to_owned(),
        justification: "warn them".to_owned(),
        state: crate::ReleaseState::PendingApproval,
        policy_version: "sha256:00".to_owned(),
        requested: vec![source_id.clone()],
        decisions: serde_json::json!({"objects": []}),
        outgoing: vec![released.clone()],
        created_at: T0,
        decided_at: None,
        approvals: Vec::new(),
    };
    let pending = crate::ReleaseCommit {
        record: record.clone(),
        expected_state: None,
        approval: None,
        collection_id: None,
        derivations: Vec::new(),
        ledger: None,
        only_newer: false,
    };
    let mut premature = pending.clone();
    premature.ledger = Some(ledger_append(&name, &release_id, &[]));
    assert!(matches!(
        store.commit_release(&premature, T0).await,
        Err(StoreError::InvalidArgument(_))
    ));
    store
        .commit_release(&pending, T0)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(
        !exists(store, &outbound, &derivative_id).await,
        "nothing is visible before the decision is final"
    );

    record.state = crate::ReleaseState::Released;
    record.decided_at = Some(T0 + 1);
    let approve = crate::ReleaseCommit {
        record: record.clone(),
        expected_state: Some(crate::ReleaseState::PendingApproval),
        approval: Some(crate::Approval {
            account: "bob".to_owned(),
            approved_at: T0 + 1,
        }),
        collection_id: Some(outbound.clone()),
        derivations: vec![crate::Derivation {
            source_id: source_id.clone(),
            derivative_id: derivative_id.clone(),
        }],
        ledger: Some(ledger_append(&name, &release_id, &[&derivative_id])),
        only_newer: false,
    };
    let mut unrecorded = approve.clone();
    unrecorded.ledger = None;
    assert!(
        matches!(
            store.commit_release(&unrecorded, T0 + 1).await,
            Err(StoreError::InvalidArgument(_))
        ),
        "no release without its record"
    );
    let mut nowhere = approve.clone();
    nowhere.collection_id = None;
    assert!(matches!(
        store.commit_release(&nowhere, T0 + 1).await,
        Err(StoreError::InvalidArgument(_))
    ));
    let outcomes = store
        .commit_release(&approve, T0 + 1)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert!(matches!(outcomes.as_slice(), [AddOutcome::Stored { .. }]));
    assert!(exists(store, &outbound, &derivative_id).await);
    // Approving twice loses: the row is no longer pending.
    assert!(matches!(
        store.commit_release(&approve, T0 + 2).await,
        Err(StoreError::Conflict(_))
    ));
    let read = store
        .release(&release_id)
        .await
        .unwrap_or_else(|err| panic!("{err}"))
        .unwrap_or_else(|| panic!("release stored"));
    assert_eq!(read.state, crate::ReleaseState::Released);
    assert_eq!(read.approvals.len(), 1);
    assert_eq!(read.outgoing, vec![released.clone()]);
    assert_eq!(read.requested, vec![source_id.clone()]);
    let map = store
        .derivations(&name)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        map,
        vec![crate::Derivation {
            source_id: source_id.clone(),
            derivative_id: derivative_id.clone()
        }]
    );

    // Same (id, version), other content: the whole commit is refused.
    let mut clash = record.clone();
    clash.id = format!("release--{}", uuid::Uuid::new_v4());
    let mut other = released.clone();
    other.raw.push(' ');
    let extra_id = format!("indicator--{}", uuid::Uuid::new_v4());
    clash.outgoing = vec![object(&extra_id, "indicator", "2.1", "e1"), other];
    let refused = crate::ReleaseCommit {
        record: clash.clone(),
        expected_state: None,
        approval: None,
        collection_id: Some(outbound.clone()),
        derivations: Vec::new(),
        ledger: Some(ledger_append(&name, &clash.id, &[&extra_id])),
        only_newer: false,
    };
    assert!(matches!(
        store.commit_release(&refused, T0 + 3).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store
            .release(&clash.id)
            .await
            .unwrap_or_else(|err| panic!("{err}"))
            .is_none()
    );
    assert!(
        !store
            .object_exists(&outbound, &extra_id)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        "all or nothing"
    );
    assert_eq!(
        store
            .ledger_size(&name)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        1,
        "no record without its release"
    );
    // Identical content again is a no-op duplicate.
    clash.outgoing = vec![released];
    let again_ledger = ledger_append(&name, &clash.id, &[&derivative_id]);
    let again = crate::ReleaseCommit {
        record: clash,
        expected_state: None,
        approval: None,
        collection_id: Some(outbound),
        derivations: Vec::new(),
        ledger: Some(again_ledger),
        only_newer: false,
    };
    let outcomes = store
        .commit_release(&again, T0 + 4)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(outcomes, vec![AddOutcome::Duplicate]);
    let leaves = store
        .ledger_leaves(&name, 0, 10)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(leaves.len(), 2);
    assert_eq!(leaves[0].release_id, release_id);
    let second = ledger::PublicRecord::from_leaf_bytes(&leaves[1].bytes)
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(second.sequence, 1);
    assert_eq!(second.previous, leaves[0].leaf_hash, "records are chained");
    assert_eq!(
        store
            .ledger_leaf_of_release(&release_id)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        Some((name.clone(), 0))
    );
    // The object hash was listed by both releases.
    let sha = object_digest(&derivative_id);
    assert_eq!(
        store
            .ledger_leaves_with_object(&name, &sha)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        vec![0, 1]
    );

    // A recall-style commit may only write versions newer than any stored.
    let outbound_id = party.outbound.clone().unwrap_or_default();
    for (version, newer) in [("d1", false), ("d0", false), ("d2", true)] {
        let id = format!("release--{}", uuid::Uuid::new_v4());
        let mut record = record.clone();
        record.id = id.clone();
        record.outgoing = vec![object(&derivative_id, "indicator", "2.1", version)];
        let commit = crate::ReleaseCommit {
            record,
            expected_state: None,
            approval: None,
            collection_id: Some(outbound_id.clone()),
            derivations: Vec::new(),
            ledger: Some(ledger_append(&name, &id, &[&derivative_id])),
            only_newer: true,
        };
        let result = store.commit_release(&commit, T0 + 10).await;
        if newer {
            assert!(result.is_ok(), "{version}: {result:?}");
        } else {
            assert!(
                matches!(result, Err(StoreError::Conflict(_))),
                "{version}: {result:?}"
            );
            assert!(
                store
                    .release(&id)
                    .await
                    .unwrap_or_else(|err| panic!("{err}"))
                    .is_none(),
                "nothing written"
            );
        }
    }
}

/// A ledger record for tests, listing `objects` with a digest derived from the id.
pub fn ledger_append(party: &str, release_id: &str, objects: &[&str]) -> crate::LedgerAppend {
    let internal = format!("{{\"release\":\"{release_id}\"}}").into_bytes();
    let salt = [7u8; 32];
    crate::LedgerAppend {
        party: party.to_owned(),
        record: ledger::PublicRecord {
            version: ledger::RECORD_VERSION,
            sequence: 0,
            previous: ledger::GENESIS_PREVIOUS,
            release_id: release_id.to_owned(),
            time: "2024-01-01T00:00:00Z".to_owned(),
            partner: party.to_owned(),
            outcome: ledger::Outcome::Released,
            policy_version_hash: ledger::Hash([1; 32]),
            objects: objects
                .iter()
                .map(|id| ledger::ObjectDigest {
                    id: (*id).to_owned(),
                    modified: "2024-01-01T00:00:00.000Z".to_owned(),
                    sha256: object_digest(id),
                })
                .collect(),
            internal_commitment: ledger::commit(&salt, &internal),
        },
        internal,
        salt,
    }
}

fn object_digest(id: &str) -> ledger::Hash {
    ledger::object_sha256(id.as_bytes())
}

/// Many appends to two logs: sizes, chaining, stored nodes that reproduce the
/// roots and proofs of an in-memory log, lookups, internal records and
/// cosignatures; a failed commit appends nothing.
pub async fn ledger_logs(store: &dyn Store) {
    let root = fresh_api_root(store).await;
    let mut memory: Vec<ledger::MemoryLog> = Vec::new();
    let mut names = Vec::new();
    for _ in 0..2 {
        let name = format!("partner-{}", uuid::Uuid::new_v4().simple());
        store
            .create_party(&new_party(&name, &root, false), T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        names.push(name);
        memory.push(ledger::MemoryLog::new());
    }
    assert_eq!(
        store
            .ledger_size(&names[0])
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        0
    );
    for step in 0..37u64 {
        let which = usize::from(step % 3 == 0);
        let name = &names[which];
        let release_id = format!("release--{}", uuid::Uuid::new_v4());
        let object_id = format!("indicator--{}", uuid::Uuid::new_v4());
        let record = crate::ReleaseRecord {
            id: release_id.clone(),
            party: name.clone(),
            requester: "alice".to_owned(),
            justification: "j".to_owned(),
            state: crate::ReleaseState::Denied,
            policy_version: "sha256:00".to_owned(),
            requested: vec![object_id.clone()],
            decisions: serde_json::json!({}),
            outgoing: Vec::new(),
            created_at: T0,
            decided_at: Some(T0),
            approvals: Vec::new(),
        };
        let commit = crate::ReleaseCommit {
            record,
            expected_state: None,
            approval: None,
            collection_id: None,
            derivations: Vec::new(),
            ledger: Some(ledger_append(name, &release_id, &[&object_id])),
            only_newer: false,
        };
        store
            .commit_release(&commit, T0 + i64::try_from(step).unwrap_or(0))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let size = store
            .ledger_size(name)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let leaves = store
            .ledger_leaves(name, size - 1, 1)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(leaves.len(), 1);
        assert_eq!(leaves[0].leaf_hash, ledger::leaf_hash(&leaves[0].bytes));
        memory[which]
            .append_leaf_hashes(&[leaves[0].leaf_hash])
            .unwrap_or_else(|err| panic!("{err}"));
    }
    for (name, log) in names.iter().zip(&memory) {
        let size = store
            .ledger_size(name)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(size, log.size());
        let ids = ledger::root_node_ids(size).unwrap_or_else(|err| panic!("{err}"));
        let hashes = store
            .ledger_nodes(name, &ids)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let map: ledger::NodeMap = ids.into_iter().zip(hashes).collect();
        assert_eq!(
            ledger::root(size, &map).unwrap_or_else(|err| panic!("{err}")),
            log.root()
        );
        for index in [0, size / 2, size - 1] {
            let ids =
                ledger::inclusion_proof_node_ids(index, size).unwrap_or_else(|err| panic!("{err}"));
            let hashes = store
                .ledger_nodes(name, &ids)
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            let map: ledger::NodeMap = ids.into_iter().zip(hashes).collect();
            assert_eq!(
                ledger::inclusion_proof(index, size, &map).unwrap_or_else(|err| panic!("{err}")),
                ledger::inclusion_proof(index, size, log).unwrap_or_else(|err| panic!("{err}"))
            );
        }
        let all = store
            .ledger_leaves(name, 0, 1000)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let mut previous = ledger::GENESIS_PREVIOUS;
        for (i, leaf) in all.iter().enumerate() {
            let record = ledger::PublicRecord::from_leaf_bytes(&leaf.bytes)
                .unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(record.sequence, i as u64);
            assert_eq!(record.previous, previous);
            previous = leaf.leaf_hash;
            let internal = store
                .ledger_internal(name, leaf.index)
                .await
                .unwrap_or_else(|err| panic!("{err}"))
                .unwrap_or_else(|| panic!("internal record of leaf {i}"));
            assert!(ledger::verify_commitment(
                &internal.salt,
                &internal.internal,
                &record.internal_commitment
            ));
        }
    }
    let missing = ledger::NodeId {
        level: 0,
        index: 10_000,
    };
    assert!(matches!(
        store.ledger_nodes(&names[0], &[missing]).await,
        Err(StoreError::Corrupt(_))
    ));
    let cosignature = crate::Cosignature {
        party: names[0].clone(),
        size: 3,
        account: "city-bot".to_owned(),
        key: "witness+01020304+AAAA".to_owned(),
        line: "— witness AQIDBA==".to_owned(),
        received_at: T0,
    };
    store
        .add_cosignature(&cosignature)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    // The same account again replaces its own cosignature.
    let mut replaced = cosignature.clone();
    replaced.key = "witness2+05060708+BBBB".to_owned();
    replaced.received_at = T0 + 1;
    store
        .add_cosignature(&replaced)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let mut other = cosignature.clone();
    other.account = "aude".to_owned();
    other.received_at = T0 + 2;
    store
        .add_cosignature(&other)
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        store
            .cosignatures(&names[0], 3)
            .await
            .unwrap_or_else(|err| panic!("{err}")),
        vec![replaced, other]
    );
    assert!(
        store
            .cosignatures(&names[0], 4)
            .await
            .unwrap_or_else(|err| panic!("{err}"))
            .is_empty()
    );
}

async fn exists(store: &dyn Store, collection: &str, id: &str) -> bool {
    store
        .object_exists(collection, id)
        .await
        .unwrap_or_else(|err| panic!("{err}"))
}

/// Listing releases: newest first, filters by state and party, and keyset
/// pages that neither skip nor repeat (ties on `created_at` broken by id).
pub async fn release_listing(store: &dyn Store) {
    let root = fresh_api_root(store).await;
    let mut names = Vec::new();
    for _ in 0..2 {
        let name = format!("partner-{}", uuid::Uuid::new_v4().simple());
        store
            .create_party(&new_party(&name, &root, false), T0)
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        names.push(name);
    }
    let mut made = Vec::new();
    for n in 0..9i64 {
        let party = &names[usize::from(n % 3 == 0)];
        let state = if n % 2 == 0 {
            crate::ReleaseState::PendingApproval
        } else {
            crate::ReleaseState::Denied
        };
        let id = format!(
            "{:08}-0000-4000-8000-{}",
            n,
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let record = crate::ReleaseRecord {
            id: id.clone(),
            party: party.clone(),
            requester: "anna".to_owned(),
            justification: "j".to_owned(),
            state,
            policy_version: "sha256:00".to_owned(),
            requested: Vec::new(),
            decisions: serde_json::json!({}),
            outgoing: Vec::new(),
            // Pairs share an instant, so the id must break ties.
            created_at: T0 + 1_000_000 + n / 2,
            decided_at: None,
            approvals: Vec::new(),
        };
        store
            .commit_release(
                &crate::ReleaseCommit {
                    record,
                    expected_state: None,
                    approval: None,
                    collection_id: None,
                    derivations: Vec::new(),
                    ledger: (state == crate::ReleaseState::Denied)
                        .then(|| ledger_append(party, &id, &[])),
                    only_newer: false,
                },
                T0,
            )
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        made.push((T0 + 1_000_000 + n / 2, id, party.clone(), state));
    }
    made.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    for party in &names {
        // Page by 2 through this party's releases.
        let expected: Vec<String> = made
            .iter()
            .filter(|m| &m.2 == party)
            .map(|m| m.1.clone())
            .collect();
        let mut got = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .releases(&crate::ReleaseListQuery {
                    state: None,
                    party: Some(party.clone()),
                    before: before.clone(),
                    limit: 2,
                })
                .await
                .unwrap_or_else(|err| panic!("{err}"));
            let Some(last) = page.last() else { break };
            before = Some((last.created_at, last.id.clone()));
            got.extend(page.iter().map(|l| l.id.clone()));
            assert!(got.len() <= expected.len(), "paging repeats");
        }
        assert_eq!(got, expected);
    }
    let pending = store
        .releases(&crate::ReleaseListQuery {
            state: Some(crate::ReleaseState::PendingApproval),
            party: Some(names[1].clone()),
            before: None,
            limit: 100,
        })
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    let expected: Vec<String> = made
        .iter()
        .filter(|m| m.2 == names[1] && m.3 == crate::ReleaseState::PendingApproval)
        .map(|m| m.1.clone())
        .collect();
    assert_eq!(
        pending.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(pending.iter().all(|l| l.requester == "anna"));
}
