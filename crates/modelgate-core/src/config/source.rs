//! A config file as read: its values, where each sits in the text (for error lines),
//! and `check`, the one validation `serve` and `check-config` share.

use super::tree::{self, FieldPath};
use super::{parse, validate, ConfigError, ConfigFile};
use crate::catalog::{build_catalog, Catalog, BUILTIN_TOML, DEMO_TOML};
use std::path::Path;

/// A parsed file: what could be read of it, where each value sits in the text, and
/// the problems found while reading it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub name: String,
    pub text: String,
    pub config: ConfigFile,
    tree: tree::Node,
    /// The file row of each entry kept in `config.providers` / `config.models` (an
    /// entry whose `id` cannot be read is left out).
    provider_rows: Vec<usize>,
    model_rows: Vec<usize>,
    problems: Vec<ConfigError>,
}

impl SourceFile {
    /// Reads `text` as far as it can; what it could not read is in `problems()`.
    pub fn load(name: &str, text: &str) -> SourceFile {
        let mut file = SourceFile {
            name: name.to_owned(),
            text: text.to_owned(),
            config: ConfigFile::default(),
            tree: tree::Node::default(),
            provider_rows: Vec::new(),
            model_rows: Vec::new(),
            problems: Vec::new(),
        };
        let parsed = toml::from_str::<tree::Node>(text)
            .and_then(|tree| Ok((tree, toml::from_str::<toml::Table>(text)?)));
        match parsed {
            Err(e) => file.problems.push(ConfigError {
                file: name.to_owned(),
                line: e.span().map_or(1, |s| line_of_offset(text, s.start)),
                path: FieldPath::default().to_string(),
                // One line per error: "invalid array\nexpected `]`" -> "…: expected `]`".
                problem: e.message().trim().replace('\n', ": "),
            }),
            Ok((tree, table)) => {
                file.tree = tree;
                let read = parse::read_config(table);
                file.config = read.config;
                file.provider_rows = read.provider_rows;
                file.model_rows = read.model_rows;
                file.problems = read
                    .problems
                    .into_iter()
                    .map(|p| file.error(&p.path, p.text))
                    .collect();
            }
        }
        file
    }

    /// Like `load`, but any problem is an error (the first one).
    pub fn parse(name: &str, text: &str) -> Result<SourceFile, ConfigError> {
        let file = Self::load(name, text);
        match file.problems.first() {
            Some(e) => Err(e.clone()),
            None => Ok(file),
        }
    }

    /// Loads the file at `path`; fails only when it cannot be read at all.
    pub fn read(path: &Path) -> Result<SourceFile, String> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            // "No such file or directory (os error 2)": the code helps no reader.
            let reason = e.to_string();
            let reason = reason
                .split(" (os error")
                .next()
                .unwrap_or(&reason)
                .to_owned();
            format!("cannot read {name}: {reason}")
        })?;
        Ok(Self::load(&name, &text))
    }

    /// What could not be read (each such value is left out of `config`).
    pub fn problems(&self) -> &[ConfigError] {
        &self.problems
    }

    /// An error at `path`, on the line of the deepest part of it the file holds.
    pub fn error(&self, path: &FieldPath, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.name.clone(),
            line: self
                .tree
                .offset_of(path)
                .map_or(1, |o| line_of_offset(&self.text, o)),
            path: path.to_string(),
            problem: problem.into(),
        }
    }

    /// Whether `[[table]]` entry `index` of `config` sets `sub` in this file itself.
    pub fn sets(&self, table: &str, index: usize, sub: &FieldPath) -> bool {
        self.tree.contains(&self.entry_path(table, index, sub))
    }

    /// An error about `[[table]]` entry `index` of `config`, at `sub` inside it.
    pub fn error_at(
        &self,
        table: &str,
        index: usize,
        sub: &FieldPath,
        problem: impl Into<String>,
    ) -> ConfigError {
        self.error(&self.entry_path(table, index, sub), problem)
    }

    fn entry_path(&self, table: &str, index: usize, sub: &FieldPath) -> FieldPath {
        let rows = match table {
            "providers" => &self.provider_rows,
            _ => &self.model_rows,
        };
        let row = rows.get(index).copied().unwrap_or(index);
        let mut path = FieldPath::default().key(table).index(row);
        path.0.extend(sub.0.iter().cloned());
        path
    }
}

/// Every check `serve` makes before it starts, and so `check-config`'s: what the file
/// could not read, its sections' values, then the catalog built from the built-in
/// layers (with the demo layer for `--demo`) and the file. Every error found, in
/// file and line order.
pub fn check(
    file: Option<&SourceFile>,
    demo: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Catalog, Vec<ConfigError>> {
    let builtin = SourceFile::load("builtin.toml", BUILTIN_TOML);
    let demo_layer = SourceFile::load("demo.toml", DEMO_TOML);
    let mut layers = vec![&builtin];
    if demo {
        layers.push(&demo_layer);
    }
    layers.extend(file);
    let mut errors: Vec<ConfigError> = layers
        .iter()
        .flat_map(|l| l.problems.iter().cloned())
        .collect();
    if let Some(f) = file {
        let found = validate::sections(&f.config);
        errors.extend(found.into_iter().map(|p| f.error(&p.path, p.text)));
    }
    match build_catalog::<Vec<ConfigError>>(&layers, env) {
        Ok(catalog) if errors.is_empty() => return Ok(catalog),
        Ok(_) => {}
        Err(found) => errors.extend(found),
    }
    Err(tidy(errors))
}

/// Drops an error about a field already reported (a value that could not be read is
/// not also "required"), then orders them by file and line.
fn tidy(errors: Vec<ConfigError>) -> Vec<ConfigError> {
    let mut kept: Vec<ConfigError> = Vec::new();
    for e in errors {
        let repeated = kept
            .iter()
            .any(|k| k.file == e.file && within(&e.path, &k.path));
        if !repeated {
            kept.push(e);
        }
    }
    kept.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));
    kept
}

fn within(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
