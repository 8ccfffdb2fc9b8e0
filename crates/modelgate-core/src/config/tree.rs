//! Where each value sits in a config file: a tree of byte spans read with the `toml`
//! deserializer's span protocol, so that any error's field path can name its line.

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;
use std::ops::Range;

// `toml::Spanned` cannot be used directly: it fails on dotted-key tables, which carry
// no span. These are the names of the same protocol (serde_spanned 0.6), so a value
// with a span reports it and one without is read as a plain table.
const SPANNED: &str = "$__serde_spanned_private_Spanned";
const START: &str = "$__serde_spanned_private_start";
const END: &str = "$__serde_spanned_private_end";
const VALUE: &str = "$__serde_spanned_private_value";
const FIELDS: &[&str] = &[START, END, VALUE];
/// A TOML datetime reaches a visitor as a map with this one private key.
const DATETIME_PREFIX: &str = "$__toml_private";

/// One step of a field path: `models[2].routes[0].provider`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A field path, printed as `models[2].routes[0].provider`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn key(mut self, key: &str) -> FieldPath {
        self.0.push(Seg::Key(key.to_owned()));
        self
    }

    pub fn index(mut self, index: usize) -> FieldPath {
        self.0.push(Seg::Index(index));
        self
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(file)");
        }
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if n == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default)]
pub struct Node {
    span: Option<Range<usize>>,
    kind: Kind,
}

#[derive(Debug, Clone, Default)]
enum Kind {
    Table(Vec<(String, Node)>),
    Array(Vec<Node>),
    #[default]
    Leaf,
}

impl Node {
    /// The byte offset of `path`, or of the deepest part of it the file holds.
    pub fn offset_of(&self, path: &FieldPath) -> Option<usize> {
        let mut node = self;
        let mut best = node.start();
        for seg in &path.0 {
            let next = match (seg, &node.kind) {
                (Seg::Key(k), Kind::Table(entries)) => {
                    entries.iter().find(|(name, _)| name == k).map(|(_, n)| n)
                }
                (Seg::Index(i), Kind::Array(items)) => items.get(*i),
                _ => None,
            };
            let Some(next) = next else { break };
            node = next;
            best = node.start().or(best);
        }
        best
    }

    /// Whether the file itself holds `path` (not a default or another layer).
    pub fn contains(&self, path: &FieldPath) -> bool {
        let mut node = self;
        for seg in &path.0 {
            let next = match (seg, &node.kind) {
                (Seg::Key(k), Kind::Table(entries)) => {
                    entries.iter().find(|(name, _)| name == k).map(|(_, n)| n)
                }
                (Seg::Index(i), Kind::Array(items)) => items.get(*i),
                _ => None,
            };
            let Some(next) = next else { return false };
            node = next;
        }
        true
    }

    /// A dotted-key table (`pricing.input_per_mtok = 1`) has no span of its own: it
    /// starts where its first key does.
    fn start(&self) -> Option<usize> {
        self.span
            .as_ref()
            .map(|s| s.start)
            .or_else(|| match &self.kind {
                Kind::Table(entries) => entries.iter().find_map(|(_, n)| n.start()),
                Kind::Array(items) => items.iter().find_map(Node::start),
                Kind::Leaf => None,
            })
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(SPANNED, FIELDS, NodeVisitor)
    }
}

/// The value inside a span: read as itself, not asked for a span again.
struct Unspanned;

impl<'de> DeserializeSeed<'de> for Unspanned {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node {
            span: None,
            kind: Kind::Array(items),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        let (mut start, mut end) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                START => start = Some(map.next_value::<usize>()?),
                END => end = Some(map.next_value::<usize>()?),
                VALUE => {
                    let mut node = map.next_value_seed(Unspanned)?;
                    if let (Some(s), Some(e)) = (start, end) {
                        node.span = Some(s..e);
                    }
                    return Ok(node);
                }
                k if k.starts_with(DATETIME_PREFIX) => {
                    map.next_value::<IgnoredAny>()?;
                    return Ok(Node::default());
                }
                _ => entries.push((key, map.next_value()?)),
            }
        }
        Ok(Node {
            span: None,
            kind: Kind::Table(entries),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, path: FieldPath) -> usize {
        let tree: Node = toml::from_str(text).unwrap();
        let offset = tree.offset_of(&path).unwrap_or(0);
        text[..offset].matches('\n').count() + 1
    }

    #[test]
    fn finds_lines_of_nested_and_dotted_values() {
        let text = "[server]\nlisten = \"x\"\nwhen = 1979-05-27\n\n[[models]]\nid = \"a\"\n\n[[models]]\nid = \"b\"\nroutes = [\n  { provider = \"p\" },\n  { provider = \"q\", weight = 0 },\n]\npricing.input_per_mtok = 1\n";
        let models = FieldPath::default().key("models");
        assert_eq!(
            line(text, FieldPath::default().key("server").key("when")),
            3
        );
        assert_eq!(line(text, models.clone().index(1)), 8);
        let route = models.clone().index(1).key("routes").index(1);
        assert_eq!(line(text, route.clone().key("provider")), 12);
        // A key the file lacks: the line of its entry.
        assert_eq!(line(text, route.key("priority")), 12);
        assert_eq!(line(text, models.clone().index(1).key("pricing")), 14);
        assert_eq!(line(text, models.index(0).key("missing")), 5);
    }

    #[test]
    fn paths_print_like_the_file() {
        let p = FieldPath::default()
            .key("models")
            .index(2)
            .key("routes")
            .index(0)
            .key("provider");
        assert_eq!(p.to_string(), "models[2].routes[0].provider");
        assert_eq!(FieldPath::default().to_string(), "(file)");
    }
}
