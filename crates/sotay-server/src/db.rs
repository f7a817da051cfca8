//! Storage for the server: one small interface ([`Conn`]) over a transaction of either SQLite
//! (rusqlite) or PostgreSQL (the blocking `postgres` client, pooled with r2d2), so every query is
//! written once. SQL uses `$1`-style parameters (SQLite reads them as `?1`), only `BIGINT` and
//! `TEXT` values, and syntax both engines share (`ON CONFLICT … DO …`, `CAST`).
//!
//! Calls block; the HTTP layer runs them on tokio's blocking pool.

use crate::error::{ServerError, ServerResult};
use r2d2_postgres::postgres::types::{ToSql, Type};
use r2d2_postgres::{postgres::NoTls, PostgresConnectionManager};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A SQL value: the only two types the schema uses, plus NULL.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Int(i64),
    Text(String),
    Null,
}

impl Val {
    pub fn int(&self) -> i64 {
        match self {
            Val::Int(i) => *i,
            Val::Text(t) => t.parse().unwrap_or(0),
            Val::Null => 0,
        }
    }

    pub fn text(&self) -> String {
        match self {
            Val::Text(t) => t.clone(),
            Val::Int(i) => i.to_string(),
            Val::Null => String::new(),
        }
    }

    pub fn opt_text(&self) -> Option<String> {
        match self {
            Val::Null => None,
            v => Some(v.text()),
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}
impl From<u64> for Val {
    fn from(v: u64) -> Self {
        Val::Int(v as i64)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Val::Text(v.to_owned())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Self {
        Val::Text(v)
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Self {
        v.map_or(Val::Null, Val::Text)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Self {
        Val::Int(v as i64)
    }
}

/// One open transaction.
pub trait Conn {
    fn exec(&mut self, sql: &str, params: &[Val]) -> ServerResult<u64>;
    fn query(&mut self, sql: &str, params: &[Val]) -> ServerResult<Vec<Vec<Val>>>;

    fn query_one(&mut self, sql: &str, params: &[Val]) -> ServerResult<Option<Vec<Val>>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

const SQLITE_SCHEMA: &[&str] = &[
    include_str!("migrations/sqlite/0001_init.sql"),
    include_str!("migrations/sqlite/0002_targets.sql"),
    include_str!("migrations/sqlite/0003_team_position.sql"),
    include_str!("migrations/sqlite/0004_quarantine.sql"),
];
const POSTGRES_SCHEMA: &[&str] = &[
    include_str!("migrations/postgres/0001_init.sql"),
    include_str!("migrations/postgres/0002_targets.sql"),
    include_str!("migrations/postgres/0003_team_position.sql"),
    include_str!("migrations/postgres/0004_quarantine.sql"),
];

#[derive(Clone)]
pub enum Database {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    Postgres(r2d2::Pool<PostgresConnectionManager<NoTls>>),
}

impl Database {
    /// Opens (creating if needed) an SQLite server database and brings its schema up to date.
    pub fn open_sqlite(path: &Path) -> ServerResult<Self> {
        let mut conn = rusqlite::Connection::open(path).map_err(ServerError::db)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(ServerError::db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(ServerError::db)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(ServerError::db)?;
        sotay_core::migrate_sqlite(&mut conn, SQLITE_SCHEMA).map_err(|e| match e {
            sotay_core::CoreError::Database(e) => ServerError::db(e),
            e => ServerError::Internal(e.to_string()),
        })?;
        Ok(Database::Sqlite(Arc::new(Mutex::new(conn))))
    }

    /// Connects to PostgreSQL (`postgres://user:pass@host/db`) and brings the schema up to date.
    pub fn connect_postgres(url: &str) -> ServerResult<Self> {
        let config = url.parse().map_err(|e| {
            ServerError::BadRequest(format!("địa chỉ PostgreSQL không hợp lệ: {e}"))
        })?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .build(manager)
            .map_err(ServerError::db)?;
        let mut client = pool.get().map_err(ServerError::db)?;
        let mut tx = client.transaction().map_err(ServerError::db)?;
        // Serialises concurrent starts of several instances on one database.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(4242);
             CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);",
        )
        .map_err(ServerError::db)?;
        let found: i64 = tx
            .query_opt("SELECT version FROM schema_version", &[])
            .map_err(ServerError::db)?
            .map_or(0, |r| r.get(0));
        check_version(found, POSTGRES_SCHEMA.len())?;
        for sql in &POSTGRES_SCHEMA[found as usize..] {
            tx.batch_execute(sql).map_err(ServerError::db)?;
        }
        tx.execute("DELETE FROM schema_version", &[])
            .map_err(ServerError::db)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(POSTGRES_SCHEMA.len() as i64)],
        )
        .map_err(ServerError::db)?;
        tx.commit().map_err(ServerError::db)?;
        drop(client);
        Ok(Database::Postgres(pool))
    }

    /// Runs `f` in one transaction: committed when it returns Ok, rolled back otherwise.
    pub fn transaction<R>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> ServerResult<R>,
    ) -> ServerResult<R> {
        match self {
            Database::Sqlite(conn) => {
                let mut conn = conn
                    .lock()
                    .map_err(|_| ServerError::Internal("khóa CSDL".into()))?;
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(ServerError::db)?;
                let mut wrapped = SqliteConn(tx);
                let result = f(&mut wrapped)?;
                wrapped.0.commit().map_err(ServerError::db)?;
                Ok(result)
            }
            Database::Postgres(pool) => {
                let mut client = pool.get().map_err(ServerError::db)?;
                let tx = client.transaction().map_err(ServerError::db)?;
                let mut wrapped = PostgresConn(tx);
                let result = f(&mut wrapped)?;
                wrapped.0.commit().map_err(ServerError::db)?;
                Ok(result)
            }
        }
    }
}

fn check_version(found: i64, supported: usize) -> ServerResult<()> {
    if found > supported as i64 {
        return Err(ServerError::Internal(format!(
            "cơ sở dữ liệu có lược đồ phiên bản {found}, mới hơn bản này ({supported})"
        )));
    }
    Ok(())
}

struct SqliteConn<'a>(rusqlite::Transaction<'a>);

fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Val::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Val::Text(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

impl Conn for SqliteConn<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> ServerResult<u64> {
        let mut stmt = self
            .0
            .prepare_cached(&sqlite_sql(sql))
            .map_err(ServerError::db)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(ServerError::db)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> ServerResult<Vec<Vec<Val>>> {
        let mut stmt = self
            .0
            .prepare_cached(&sqlite_sql(sql))
            .map_err(ServerError::db)?;
        let columns = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                (0..columns)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Integer(v) => Val::Int(v),
                            rusqlite::types::ValueRef::Real(v) => Val::Int(v as i64),
                            rusqlite::types::ValueRef::Text(t) => {
                                Val::Text(String::from_utf8_lossy(t).into_owned())
                            }
                            rusqlite::types::ValueRef::Blob(_) => Val::Null,
                            rusqlite::types::ValueRef::Null => Val::Null,
                        })
                    })
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(ServerError::db)?;
        rows.collect::<Result<_, _>>().map_err(ServerError::db)
    }
}

struct PostgresConn<'a>(r2d2_postgres::postgres::Transaction<'a>);

fn pg_params(params: &[Val]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Val::Int(i) => Box::new(*i),
                Val::Text(t) => Box::new(t.clone()),
                Val::Null => Box::new(Option::<String>::None),
            }
        })
        .collect()
}

impl Conn for PostgresConn<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> ServerResult<u64> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        self.0.execute(sql, &refs).map_err(ServerError::db)
    }

    fn query(&mut self, sql: &str, params: &[Val]) -> ServerResult<Vec<Vec<Val>>> {
        let boxed = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(sql, &refs).map_err(ServerError::db)?;
        Ok(rows
            .iter()
            .map(|row| {
                row.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, col)| match *col.type_() {
                        Type::INT8 => row.get::<_, Option<i64>>(i).map_or(Val::Null, Val::Int),
                        Type::INT4 => row
                            .get::<_, Option<i32>>(i)
                            .map_or(Val::Null, |v| Val::Int(v.into())),
                        _ => row.get::<_, Option<String>>(i).map_or(Val::Null, Val::Text),
                    })
                    .collect()
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrading_to_team_positions_numbers_each_teams_records_in_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("central.sqlite");
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        sotay_core::migrate_sqlite(&mut conn, &SQLITE_SCHEMA[..2]).unwrap();
        for team in ["a", "b"] {
            conn.execute(
                "INSERT INTO teams VALUES (?1, ?1, 'other', '38', '14758', 'now')",
                [team],
            )
            .unwrap();
        }
        // Arrival order a, b, a, a, b.
        for (i, team) in ["a", "b", "a", "a", "b"].iter().enumerate() {
            conn.execute(
                "INSERT INTO records (device_id, seq, team_id, record_id, hlc, entity, entity_id,
                                      op, fields, payload_version, payload, received_at)
                 VALUES (?1, 1, ?2, ?1, 'h', 'citizen', ?1, 'upsert', '[]', 1, '{}', 'now')",
                rusqlite::params![format!("d{i}"), team],
            )
            .unwrap();
        }
        drop(conn);
        let Database::Sqlite(conn) = Database::open_sqlite(&path).unwrap() else {
            unreachable!()
        };
        let conn = conn.lock().unwrap();
        let positions: Vec<(String, i64)> = conn
            .prepare("SELECT team_id, team_position FROM records ORDER BY server_seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected = [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)];
        assert_eq!(positions, expected.map(|(t, p)| (t.to_owned(), p)).to_vec());
        let next: Vec<i64> = conn
            .prepare("SELECT next_position FROM teams ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(next, [3, 2]);
    }
}
