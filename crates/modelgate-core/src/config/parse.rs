//! Reading a file's values into `ConfigFile` while collecting every problem, not just
//! the first: a piece that does not deserialize is reported and left out, and the rest
//! is still read, so the later checks run on it too (issue 11: four mistakes, one run).

use super::tree::{FieldPath, Seg};
use super::ConfigFile;
use toml::{Table, Value};

/// A problem at a field path, before it is given a file and line.
#[derive(Debug, Clone)]
pub struct Problem {
    pub path: FieldPath,
    pub text: String,
}

impl Problem {
    pub fn new(path: FieldPath, text: impl Into<String>) -> Problem {
        Problem {
            path,
            text: text.into(),
        }
    }
}

/// What was read: the config, where each kept `[[providers]]`/`[[models]]` entry sits
/// in the file (entries that cannot be read at all are left out), and the problems.
pub struct Read {
    pub config: ConfigFile,
    pub provider_rows: Vec<usize>,
    pub model_rows: Vec<usize>,
    pub problems: Vec<Problem>,
}

pub fn read_config(root: Table) -> Read {
    let mut problems = Vec::new();
    let mut kept = Table::new();
    let mut rows = (Vec::new(), Vec::new());
    for (key, value) in root {
        let top = FieldPath::default().key(&key);
        let wrap = |v: Value| Value::Table(Table::from_iter([(key.clone(), v)]));
        let value = match attempt(wrap(value.clone())) {
            Ok(_) => Some(value),
            Err(p) if p.path == top => {
                problems.push(p);
                None
            }
            Err(p) => match value {
                Value::Table(t) => Some(Value::Table(keep_fields(
                    t,
                    Table::new(),
                    &|t| attempt(wrap(Value::Table(t))),
                    &mut problems,
                ))),
                Value::Array(items) => {
                    let (items, kept_rows) = keep_entries(items, &wrap, &mut problems);
                    match key.as_str() {
                        "providers" => rows.0 = kept_rows,
                        _ => rows.1 = kept_rows,
                    }
                    Some(Value::Array(items))
                }
                _ => {
                    problems.push(p);
                    None
                }
            },
        };
        if let Some(v) = value {
            kept.insert(key, v);
        }
    }
    let config = match attempt(Value::Table(kept.clone())) {
        Ok(c) => c,
        Err(p) => {
            // Every piece kept read alone; keep the report honest if together they don't.
            problems.push(p);
            ConfigFile::default()
        }
    };
    let all = |n: usize| (0..n).collect::<Vec<_>>();
    let provider_rows = if rows.0.is_empty() {
        all(config.providers.len())
    } else {
        rows.0
    };
    let model_rows = if rows.1.is_empty() {
        all(config.models.len())
    } else {
        rows.1
    };
    Read {
        config,
        provider_rows,
        model_rows,
        problems,
    }
}

/// The fields of `table` that read alone (together with `required`), reporting the rest.
fn keep_fields(
    table: Table,
    required: Table,
    attempt: &dyn Fn(Table) -> Result<ConfigFile, Problem>,
    problems: &mut Vec<Problem>,
) -> Table {
    let mut good = required.clone();
    for (key, value) in table {
        if required.contains_key(&key) {
            continue;
        }
        let mut one = required.clone();
        one.insert(key.clone(), value.clone());
        match attempt(one) {
            Ok(_) => {
                good.insert(key, value);
            }
            Err(p) => problems.push(p),
        }
    }
    good
}

/// The entries of a `[[table]]` array, each read alone; one whose `id` cannot be read is
/// left out, one with other bad fields is kept without them. Returns their file rows.
fn keep_entries(
    items: Vec<Value>,
    wrap: &dyn Fn(Value) -> Value,
    problems: &mut Vec<Problem>,
) -> (Vec<Value>, Vec<usize>) {
    let mut kept = Vec::new();
    let mut rows = Vec::new();
    for (row, item) in items.into_iter().enumerate() {
        let as_entry = |t: Table| attempt(wrap(Value::Array(vec![Value::Table(t)])));
        let at_row = |mut p: Problem| {
            // Read alone, the entry was index 0: name its place in the file.
            if let Some(Seg::Index(i)) = p.path.0.get_mut(1) {
                *i = row;
            }
            p
        };
        let Value::Table(table) = item else {
            if let Err(p) = attempt(wrap(Value::Array(vec![item.clone()]))) {
                problems.push(at_row(p));
            }
            continue;
        };
        if as_entry(table.clone()).is_ok() {
            kept.push(Value::Table(table));
            rows.push(row);
            continue;
        }
        let required: Table = table
            .iter()
            .filter(|(k, _)| k.as_str() == "id")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Err(p) = as_entry(required.clone()) {
            problems.push(at_row(p));
            continue;
        }
        let mut found = Vec::new();
        let good = keep_fields(table, required, &as_entry, &mut found);
        problems.extend(found.into_iter().map(at_row));
        kept.push(Value::Table(good));
        rows.push(row);
    }
    (kept, rows)
}

fn attempt(value: Value) -> Result<ConfigFile, Problem> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = FieldPath(
            e.path()
                .iter()
                .filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                    serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                    serde_path_to_error::Segment::Enum { .. }
                    | serde_path_to_error::Segment::Unknown => None,
                })
                .collect(),
        );
        let text = e.into_inner().message().trim().to_owned();
        // An unknown key is reported at its parent: name the key itself.
        if let Some(field) = unknown_field(&text) {
            if path.0.last() != Some(&Seg::Key(field.to_owned())) {
                path = path.key(field);
            }
        }
        Problem { path, text }
    })
}

fn unknown_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("unknown field `")?;
    rest.split_once('`').map(|(name, _)| name)
}
