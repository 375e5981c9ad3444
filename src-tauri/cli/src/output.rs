//! Printing for people or for scripts; one place decides which.

use serde::Serialize;
use twitcher_core::Error;

pub struct Output {
    json: bool,
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints `value` as one JSON document, or `human()` for people.
    pub fn print<T: Serialize>(&self, value: &T, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string(value).expect("serializable output"));
        } else {
            println!("{}", human());
        }
    }

    pub fn is_json(&self) -> bool {
        self.json
    }

    pub fn error(&self, error: &Error) {
        self.error_body(&error.body());
    }

    pub fn error_body(&self, body: &twitcher_core::ErrorBody) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "error": body }));
        } else {
            eprintln!("error: {}", body.message);
        }
    }
}

/// A plain text table: a header row and left-aligned columns.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    std::iter::once(line(header.iter().map(|h| h.to_string()).collect()))
        .chain(rows.iter().map(|r| line(r.clone())))
        .collect::<Vec<_>>()
        .join("\n")
}
