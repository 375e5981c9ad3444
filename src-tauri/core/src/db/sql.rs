//! What SQLite and PostgreSQL say differently, in one place.
//!
//! The statements of this module are written once, in the SQL both databases accept. Where they
//! differ — the time now, comparing times, taking the write lock, reading a true/false — a
//! statement uses a marker or a helper from here:
//!
//! | marker          | means                                              |
//! |-----------------|----------------------------------------------------|
//! | `@now`          | the time now, as the RFC 3339 text every row keeps |
//! | `@now+$N`       | that time plus `$N` seconds (a bound number)       |
//! | `@now-$N`       | that time minus `$N` seconds                       |
//! | `@clock`        | the time now, as a value times compare with        |
//! | `@time(X)`      | the stored RFC 3339 text `X` as such a value       |
//! | `@age(X)`       | seconds from the stored time `X` to now, a real number |
//! | `@skip_locked`  | PostgreSQL's `FOR UPDATE SKIP LOCKED` (nothing on SQLite, which has one writer) |
//!
//! (`@`, because `{}` would fight `format!`, which composes some statements.)
//!
//! Times are the database's own clock, not the calling process's: leases and heartbeats are
//! compared between machines, whose clocks may disagree. (Only a test's simulated clock moves it:
//! see [`crate::clock`], whose lead over the real clock every `@now` then adds.)

use std::borrow::Cow;

use sqlx::any::{Any, AnyTypeInfo, AnyTypeInfoKind};
use sqlx::{Decode, Type};

use super::{Db, DbError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// RFC 3339 with milliseconds in UTC: `2026-11-30T08:15:00.123Z`, the same text on both, so
/// times also compare as text (SQLite's `strftime('%Y-%m-%dT%H:%M:%fZ', …)` writes it too).
const PG_TEXT: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'";

impl Db {
    /// `template` with its markers (see the module's table) written for this database.
    pub(crate) fn sql<'a>(&self, template: &'a str) -> Cow<'a, str> {
        expand(self.backend, template)
    }

    /// A transaction that holds the database's write lock from its first statement, so what it
    /// reads stays true until it commits (a plan's limit, a key's record). On SQLite that is
    /// `BEGIN IMMEDIATE`; on PostgreSQL one transaction-scoped advisory lock that every such
    /// transaction takes — the same one-writer-at-a-time, only for these transactions.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>, DbError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool().begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool().begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
                Ok(tx)
            }
        }
    }
}

/// `template` with its markers written for `backend`.
fn expand(backend: Backend, template: &str) -> Cow<'_, str> {
    if !template.contains('@') {
        return Cow::Borrowed(template);
    }
    let pg = backend == Backend::Postgres;
    // The database's clock, or (a test's simulated clock) that clock plus the simulation's lead,
    // rounded up to the next millisecond and one more: the database reads its clock in whole
    // milliseconds, and a simulated time must never come out earlier than the process's.
    let (sqlite_now, pg_now) = match crate::clock::offset_secs().map(|lead| (lead * 1000.0).ceil() / 1000.0 + 0.001) {
        None => (Cow::Borrowed("'now'"), Cow::Borrowed("statement_timestamp()")),
        Some(lead) => (Cow::Owned(format!("'now', '{lead:+.3} seconds'")), Cow::Owned(format!("(statement_timestamp() + make_interval(secs => {lead:.3}))"))),
    };
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let name_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = &rest[..name_len];
        rest = &rest[name_len..];
        match name {
            "now" => {
                // An optional `+$N` / `-$N` seconds.
                let shift = rest
                    .strip_prefix(['+', '-'])
                    .filter(|r| r.starts_with('$'))
                    .map(|r| 1 + r[1..].find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len() - 1));
                match shift {
                    Some(len) => {
                        let (sign, param) = (&rest[..1], &rest[1..=len]);
                        rest = &rest[len + 1..];
                        out.push_str(&if pg {
                            format!("to_char(({pg_now} {sign} make_interval(secs => {param})) AT TIME ZONE 'UTC', {PG_TEXT})")
                        } else {
                            format!("strftime('%Y-%m-%dT%H:%M:%fZ', {sqlite_now}, printf('%+.3f seconds', {sign}({param})))")
                        });
                    }
                    None if pg => out.push_str(&format!("to_char({pg_now} AT TIME ZONE 'UTC', {PG_TEXT})")),
                    None => out.push_str(&format!("strftime('%Y-%m-%dT%H:%M:%fZ', {sqlite_now})")),
                }
            }
            "clock" => out.push_str(&if pg { pg_now.to_string() } else { format!("julianday({sqlite_now})") }),
            "skip_locked" => out.push_str(if pg { "FOR UPDATE SKIP LOCKED" } else { "" }),
            "age" => {
                let close = rest.find(')').expect("@age(…) is closed");
                let expr = &rest[1..close];
                rest = &rest[close + 1..];
                out.push_str(&if pg {
                    format!("EXTRACT(EPOCH FROM {pg_now} - CAST({expr} AS timestamptz))::DOUBLE PRECISION")
                } else {
                    format!("((julianday({sqlite_now}) - julianday({expr})) * 86400.0)")
                });
            }
            "time" => {
                let close = rest.find(')').expect("@time(…) is closed");
                let expr = &rest[1..close];
                rest = &rest[close + 1..];
                out.push_str(&if pg { format!("CAST({expr} AS timestamptz)") } else { format!("julianday({expr})") });
            }
            other => panic!("unknown SQL marker @{other}"),
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// A real number that may be missing, as whole millionths to bind (the statement divides by
/// `1000000.0`). sqlx 0.8.6's Any driver binds a missing `f64` as PostgreSQL's `float4` (its
/// `AnyArguments` swaps f32 and f64 for nulls), and a statement prepared that way refuses every
/// present value afterwards ("incorrect binary data format"); a missing integer is bound right.
/// (`task_health.last_turn_age_sec` met it on PostgreSQL.)
pub(crate) fn millionths(value: Option<f64>) -> Option<i64> {
    value.filter(|v| v.is_finite()).map(|v| (v * 1e6).round() as i64)
}

/// The advisory lock key of [`Db::begin_write`] (any constant; "twitcher" in ASCII).
const WRITE_LOCK: i64 = 0x7477_6974_6368_6572;

/// A true/false read from either database: SQLite has no boolean type (0/1 integers), PostgreSQL
/// has one. Fields use it with `#[sqlx(try_from = "Flag")]`; scalars as `Flag` and `.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        matches!(ty.kind(), AnyTypeInfoKind::Bool | AnyTypeInfoKind::SmallInt | AnyTypeInfoKind::Integer | AnyTypeInfoKind::BigInt)
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: <Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if let Ok(b) = <bool as Decode<Any>>::decode(value.clone()) {
            return Ok(Flag(b));
        }
        Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
    }
}

/// `Type` and `Decode` for the `Any` driver, for enums stored as text: `#[derive(sqlx::Type)]`
/// makes them only for the concrete databases. The text is the enum's serde name, which the
/// enums keep equal to their sqlx name (both `rename_all` the same way).
macro_rules! text_type_for_any {
    ($($ty:ty),* $(,)?) => {$(
        impl sqlx::Type<sqlx::Any> for $ty {
            fn type_info() -> sqlx::any::AnyTypeInfo {
                <str as sqlx::Type<sqlx::Any>>::type_info()
            }

            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
                <str as sqlx::Type<sqlx::Any>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $ty {
            fn decode(value: <sqlx::Any as sqlx::Database>::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let text = <&str as sqlx::Decode<sqlx::Any>>::decode(value)?;
                let de = serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text);
                Ok(<$ty as serde::Deserialize>::deserialize(de)?)
            }
        }
    )*};
}

text_type_for_any!(
    crate::model::JobStatus,
    crate::model::Container,
    crate::model::KeyringBackend,
    crate::model::Role,
    crate::model::Plan,
    crate::model::VideoStatus,
    crate::model::Storage,
    crate::model::StreamState,
);

/// A statement put together piece by piece (a search with optional filters), its arguments
/// numbered `$1, $2…` as both databases read them. (sqlx's `QueryBuilder` writes `?` for the
/// `Any` driver, which PostgreSQL does not read.)
pub(crate) struct Statement<'q> {
    pub sql: String,
    pub args: sqlx::any::AnyArguments<'q>,
}

impl<'q> Statement<'q> {
    pub fn new(sql: impl Into<String>) -> Self {
        Self { sql: sql.into(), args: Default::default() }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn push_bind<T: 'q + sqlx::Encode<'q, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        use sqlx::Arguments;
        self.args.add(value).expect("the Any driver encodes every value it has a type for");
        self.sql.push_str(&format!("${}", self.args.len()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_written_for_each_database_and_the_rest_is_left_alone() {
        let plain = "SELECT id FROM jobs WHERE owner_instance = $1";
        assert!(matches!(expand(Backend::Postgres, plain), Cow::Borrowed(_)));
        let template = "UPDATE t SET at = @now WHERE seen < @now-$2 AND @time(due) <= @clock AND run_after <= @now+$10 @skip_locked";
        assert_eq!(
            expand(Backend::Sqlite, template),
            "UPDATE t SET at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE seen < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', \
             printf('%+.3f seconds', -($2))) AND julianday(due) <= julianday('now') AND run_after <= \
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', +($10))) "
        );
        let pg = expand(Backend::Postgres, template);
        assert!(pg.contains("(statement_timestamp() - make_interval(secs => $2))"), "{pg}");
        assert!(pg.contains("(statement_timestamp() + make_interval(secs => $10))"), "{pg}");
        assert!(pg.contains("CAST(due AS timestamptz) <= statement_timestamp()") && pg.ends_with("FOR UPDATE SKIP LOCKED"), "{pg}");
        assert!(!pg.contains('@'), "{pg}");
        assert_eq!(expand(Backend::Sqlite, "@age(n.heartbeat_at) AS age"), "((julianday('now') - julianday(n.heartbeat_at)) * 86400.0) AS age");
    }

    #[test]
    #[should_panic(expected = "unknown SQL marker @nope")]
    fn an_unknown_marker_is_a_bug_caught_at_once() {
        expand(Backend::Sqlite, "SELECT @nope");
    }
}
