//! A bounded HOCON parser and resolver.
//!
//! Text is parsed into a [`Document`]: objects whose keys keep every
//! definition in order (a stack), so that layers (Jicofo's reference
//! defaults, the operator's file, its includes) can be merged first and
//! `${…}` substitutions resolved afterwards against the merged tree, as
//! Typesafe config does. Resolution yields a [`Value`] tree in which every
//! value remembers the file and line it was written at.
//!
//! Supported: objects with `{}` and dotted keys, `=` / `:` / `{` after a key,
//! commas or new lines between fields and list items, `//` and `#` comments,
//! quoted strings with JSON escapes, `"""triple-quoted"""` strings, unquoted
//! strings, value concatenation (`24 hours`), quoted and numeric keys, lists,
//! merging of repeated keys, `+=`, `include "file"` / `include file("…")` /
//! `include required(…)` (relative to the including file, a missing file is
//! skipped), `${path}` and `${?path}` with a fallback to the environment,
//! self-referential substitutions (`path = ${path}":/x"`).
//!
//! The parser does no I/O of its own: files come from an injected reader and
//! environment variables from an injected lookup. Every recursion is bounded
//! and no input panics it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The deepest nesting of objects, lists and dotted-key parts accepted.
pub const MAX_DEPTH: usize = 64;
/// The largest file accepted, in bytes.
pub const MAX_INPUT: usize = 4 << 20;
/// The deepest chain of files including each other.
const MAX_INCLUDE_DEPTH: usize = 16;
/// The most include statements followed while loading one document.
const MAX_INCLUDES: usize = 256;
/// The deepest recursion while resolving substitutions.
const MAX_RESOLVE_DEPTH: usize = 192;
/// The deepest value a substitution may produce.
const MAX_VALUE_DEPTH: usize = 128;
/// The work (roughly: values and bytes copied) resolution may do, so that
/// substitutions referring to each other cannot blow up exponentially.
const RESOLVE_BUDGET: usize = 1 << 22;

/// A file reader: `NotFound` means "no such file".
pub type ReadFile<'a> = &'a dyn Fn(&Path) -> io::Result<String>;
/// An environment lookup for substitutions not found in the tree.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A reader that finds no file: includes are skipped.
pub fn no_files(_: &Path) -> io::Result<String> {
    Err(io::ErrorKind::NotFound.into())
}

/// An empty environment.
pub fn no_env(_: &str) -> Option<String> {
    None
}

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file, or the name given to parsed text.
    pub file: Arc<str>,
    /// The line, counting from 1.
    pub line: u32,
}

impl Origin {
    /// An origin in `file` at `line`.
    pub fn new(file: &str, line: u32) -> Self {
        Self {
            file: file.into(),
            line,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Why a document cannot be parsed or resolved.
#[derive(Debug, thiserror::Error)]
pub enum HoconError {
    /// The text is not valid HOCON (or exceeds a limit).
    #[error("{origin}: {message}")]
    Syntax {
        /// Where.
        origin: Origin,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read.
    #[error("{}: cannot read{}: {source}", path.display(), included_from.as_ref().map(|o| format!(" (included at {o})")).unwrap_or_default())]
    Io {
        /// The file.
        path: PathBuf,
        /// The include statement naming it, if any.
        included_from: Option<Origin>,
        /// The reader's error.
        source: io::Error,
    },
    /// A substitution cannot be resolved (unset, a cycle, a type clash).
    #[error("{origin}: {key}: {message}")]
    Resolve {
        /// The key whose value holds the substitution.
        key: String,
        /// Where the substitution was written.
        origin: Origin,
        /// What is wrong.
        message: String,
    },
}

/// A resolved value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The value.
    pub kind: ValueKind,
    /// Where it was written.
    pub origin: Origin,
}

/// The kinds of resolved values.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// An object, keys in the order first written.
    Object(Object),
    /// A list.
    Array(Vec<Value>),
    /// A string (quoted, unquoted or concatenated).
    String(String),
    /// A number, as written.
    Number(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Value {
    /// A value of `kind` written at `origin`.
    pub fn new(kind: ValueKind, origin: Origin) -> Self {
        Self { kind, origin }
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match &self.kind {
            ValueKind::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The text of a string or number.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::String(s) | ValueKind::Number(s) => Some(s),
            _ => None,
        }
    }

    /// The value at a dotted path below this object (keys containing dots
    /// cannot be reached this way; use [`Object::get`]).
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(self, |v, k| v.as_object().and_then(|o| o.get(k)))
    }

    /// A short description for error messages: `"abc"`, `number 5`, `a list`.
    pub fn describe(&self) -> String {
        match &self.kind {
            ValueKind::Object(_) => "an object".into(),
            ValueKind::Array(_) => "a list".into(),
            ValueKind::String(s) => {
                let mut short: String = s.chars().take(60).collect();
                if short.len() < s.len() {
                    short.push('…');
                }
                format!("\"{short}\"")
            }
            ValueKind::Number(n) => format!("number {n}"),
            ValueKind::Bool(b) => format!("boolean {b}"),
            ValueKind::Null => "null".into(),
        }
    }

    /// Node count and nesting depth, for the resolution limits.
    fn measure(&self) -> (usize, usize) {
        match &self.kind {
            ValueKind::Object(o) => o.iter().fold((1, 1), |(n, d), (k, v)| {
                let (vn, vd) = v.measure();
                (n + vn + k.len() / 32, d.max(vd + 1))
            }),
            ValueKind::Array(items) => items.iter().fold((1, 1), |(n, d), v| {
                let (vn, vd) = v.measure();
                (n + vn, d.max(vd + 1))
            }),
            ValueKind::String(s) | ValueKind::Number(s) => (1 + s.len() / 32, 0),
            ValueKind::Bool(_) | ValueKind::Null => (1, 0),
        }
    }
}

/// Keys in first-written order with an index.
#[derive(Debug, Clone)]
struct OrderedMap<V> {
    entries: Vec<(String, V)>,
    index: HashMap<String, usize>,
}

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            index: HashMap::new(),
        }
    }
}

impl<V> OrderedMap<V> {
    fn get(&self, key: &str) -> Option<&V> {
        self.index
            .get(key)
            .and_then(|&i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let i = *self.index.get(key)?;
        self.entries.get_mut(i).map(|(_, v)| v)
    }

    /// The value of `key`, inserted with `make` if absent.
    fn entry(&mut self, key: String, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.entries.len();
                self.index.insert(key.clone(), i);
                self.entries.push((key, make()));
                i
            }
        };
        // `i` indexes `entries` by construction of `index`.
        &mut self.entries[i].1
    }

    fn insert(&mut self, key: String, value: V) {
        match self.get_mut(&key) {
            Some(slot) => *slot = value,
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }
}

/// A resolved object: keys in the order they were first written.
#[derive(Debug, Clone, Default)]
pub struct Object {
    map: OrderedMap<Value>,
}

impl PartialEq for Object {
    fn eq(&self, other: &Self) -> bool {
        self.map.entries == other.map.entries
    }
}

impl Object {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    /// Keys and values in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The entries as a slice.
    pub(crate) fn entries(&self) -> &[(String, Value)] {
        &self.map.entries
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.map.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.entries.is_empty()
    }

    fn insert(&mut self, key: String, value: Value) {
        self.map.insert(key, value);
    }

    fn take(self, key: &str) -> Option<Value> {
        self.map
            .entries
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

// ---------------------------------------------------------------------------
// The unresolved tree.

/// A value as written, before substitutions are resolved.
#[derive(Debug)]
enum Raw {
    Obj(RawObj),
    Arr(Vec<Raw>, Origin),
    Lit(Value),
    Subst(Subst),
    Concat(Vec<Part>, Origin),
}

/// A piece of a value concatenation.
#[derive(Debug)]
enum Part {
    Ws(String),
    Val(Raw),
}

/// An object as written: every definition of a key, oldest first.
#[derive(Debug)]
struct RawObj {
    fields: OrderedMap<Vec<Raw>>,
    origin: Origin,
}

impl RawObj {
    fn new(origin: Origin) -> Self {
        Self {
            fields: OrderedMap::default(),
            origin,
        }
    }
}

/// A `${path}` or `${?path}`.
#[derive(Debug)]
struct Subst {
    /// The absolute path (fixed up for the include point).
    path: Vec<String>,
    /// The path as written, when it differs (inside an included file).
    alt: Option<Vec<String>>,
    /// The path as written, for the environment and messages.
    text: String,
    optional: bool,
    origin: Origin,
}

fn has_subst(raw: &Raw) -> bool {
    match raw {
        Raw::Subst(_) => true,
        Raw::Lit(_) => false,
        Raw::Arr(items, _) => items.iter().any(has_subst),
        Raw::Concat(parts, _) => parts
            .iter()
            .any(|p| matches!(p, Part::Val(r) if has_subst(r))),
        Raw::Obj(o) => o
            .fields
            .entries
            .iter()
            .any(|(_, defs)| defs.iter().any(has_subst)),
    }
}

/// Adds a definition on top of a key's definitions: objects merge into an
/// object below, a value without substitutions replaces everything below.
fn push_def(defs: &mut Vec<Raw>, value: Raw) {
    match value {
        Raw::Obj(new) => {
            if let Some(Raw::Obj(top)) = defs.last_mut() {
                merge_into(top, new);
                return;
            }
            if defs.last().is_some_and(|top| !has_subst(top)) {
                defs.clear();
            }
            defs.push(Raw::Obj(new));
        }
        other => {
            if !has_subst(&other) {
                defs.clear();
            }
            defs.push(other);
        }
    }
}

/// Merges `src`'s definitions over `dst`'s.
fn merge_into(dst: &mut RawObj, src: RawObj) {
    for (key, defs) in src.fields.entries {
        let slot = dst.fields.entry(key, Vec::new);
        for d in defs {
            push_def(slot, d);
        }
    }
}

/// `a.b.c = v` is `a { b { c = v } }`.
fn define(obj: &mut RawObj, key: Vec<String>, value: Raw, origin: &Origin) {
    let mut names = key.into_iter().rev();
    let Some(mut name) = names.next() else { return };
    let mut node = value;
    for parent in names {
        let mut wrapper = RawObj::new(origin.clone());
        wrapper.fields.insert(name, vec![node]);
        node = Raw::Obj(wrapper);
        name = parent;
    }
    push_def(obj.fields.entry(name, Vec::new), node);
}

// ---------------------------------------------------------------------------
// Documents.

/// A parsed document whose substitutions are not resolved yet.
#[derive(Debug)]
pub struct Document {
    root: RawObj,
}

impl Document {
    /// A document with no keys.
    pub fn empty(origin: &str) -> Self {
        Self {
            root: RawObj::new(Origin::new(origin, 1)),
        }
    }

    /// Parses `text`; `origin` names it in messages and is the base for
    /// relative includes, which are read with `read`.
    pub fn parse(text: &str, origin: &str, read: ReadFile<'_>) -> Result<Self, HoconError> {
        let mut inc = Includes {
            read,
            stack: Vec::new(),
            count: 0,
        };
        let root = parse_file(text, Path::new(origin), Vec::new(), 0, &mut inc)?;
        Ok(Self { root })
    }

    /// Reads and parses the file at `path` (a missing file is an error).
    pub fn load(path: &Path, read: ReadFile<'_>) -> Result<Self, HoconError> {
        let text = read(path).map_err(|source| HoconError::Io {
            path: path.to_owned(),
            included_from: None,
            source,
        })?;
        let mut inc = Includes {
            read,
            stack: vec![path.to_owned()],
            count: 0,
        };
        let root = parse_file(&text, path, Vec::new(), 0, &mut inc)?;
        Ok(Self { root })
    }

    /// Merges `over` on top of this document: its keys win, objects merge.
    pub fn merge(&mut self, over: Document) {
        merge_into(&mut self.root, over.root);
    }

    /// Resolves the substitutions against the whole (merged) document;
    /// paths not in it are looked up in `env`.
    pub fn resolve(&self, env: Env<'_>) -> Result<Value, HoconError> {
        let mut r = Resolver {
            root: &self.root,
            env,
            memo: HashMap::new(),
            active: HashSet::new(),
            depth: 0,
            budget: RESOLVE_BUDGET,
        };
        r.resolve_obj(&self.root, Some(&[]))
    }
}

/// Parses and resolves one text (includes are skipped): the entry point
/// for fuzzing and tests.
pub fn parse_str(text: &str, origin: &str, env: Env<'_>) -> Result<Value, HoconError> {
    Document::parse(text, origin, &no_files)?.resolve(env)
}

// ---------------------------------------------------------------------------
// The parser.

struct Includes<'r> {
    read: ReadFile<'r>,
    /// The files being parsed, outermost first.
    stack: Vec<PathBuf>,
    count: usize,
}

#[derive(Clone, Copy)]
enum IncludeKind {
    /// `include "name"`: the name, or with `.conf` / `.json` appended.
    Heuristic,
    File,
    Url,
    Classpath,
}

fn parse_file(
    text: &str,
    path: &Path,
    prefix: Vec<String>,
    depth: usize,
    inc: &mut Includes<'_>,
) -> Result<RawObj, HoconError> {
    let file: Arc<str> = path.display().to_string().into();
    if text.len() > MAX_INPUT {
        return Err(HoconError::Syntax {
            origin: Origin { file, line: 1 },
            message: format!("the file is larger than {MAX_INPUT} bytes"),
        });
    }
    let mut p = Parser {
        src: text,
        pos: 0,
        line: 1,
        file,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        depth,
        prefix,
        inc,
    };
    p.document()
}

/// HOCON whitespace, new lines excepted.
fn is_ws(c: char) -> bool {
    c != '\n' && (c.is_whitespace() || c == '\u{feff}' || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Characters allowed in unquoted strings and keys.
fn is_unquoted(c: char) -> bool {
    !is_ws(c) && c != '\n' && !"$\"{}[]:=,+#`^?!@*&\\".contains(c)
}

/// `-12`, `3.5`, `1e-3`.
fn is_number(t: &str) -> bool {
    let s = t.strip_prefix('-').unwrap_or(t);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    digits(int)
        && frac.is_none_or(digits)
        && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

/// An unquoted token as a value: `true`, `false`, `null`, a number or a string.
fn literal(text: String, origin: Origin) -> Value {
    let kind = match text.as_str() {
        "true" => ValueKind::Bool(true),
        "false" => ValueKind::Bool(false),
        "null" => ValueKind::Null,
        t if is_number(t) => ValueKind::Number(text),
        _ => ValueKind::String(text),
    };
    Value::new(kind, origin)
}

struct Parser<'s, 'i, 'r> {
    src: &'s str,
    pos: usize,
    line: u32,
    file: Arc<str>,
    /// The directory of the file, for relative includes.
    dir: PathBuf,
    depth: usize,
    /// Where this file is included (prepended to substitution paths).
    prefix: Vec<String>,
    inc: &'i mut Includes<'r>,
}

type PResult<T> = Result<T, HoconError>;

impl Parser<'_, '_, '_> {
    fn rest(&self) -> &str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line = self.line.saturating_add(1);
        }
        Some(c)
    }

    /// Consumes `s` if the input continues with it (`s` has no new line).
    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    fn origin(&self) -> Origin {
        Origin {
            file: self.file.clone(),
            line: self.line,
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(HoconError::Syntax {
            origin: self.origin(),
            message: message.into(),
        })
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the file".into(),
            Some('\n') => "the end of the line".into(),
            Some(c) => format!("`{c}`"),
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        Ok(())
    }

    fn at_comment(&self) -> bool {
        let r = self.rest();
        r.starts_with('#') || r.starts_with("//")
    }

    /// Skips whitespace and comments, not new lines.
    fn skip_ws(&mut self) {
        loop {
            match self.peek() {
                Some(c) if is_ws(c) => {
                    self.bump();
                }
                _ if self.at_comment() => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
    }

    /// Skips whitespace, comments and new lines.
    fn skip_ws_nl(&mut self) {
        loop {
            self.skip_ws();
            if self.peek() == Some('\n') {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn path_of(&self, obj_path: Option<&[String]>, key: &[String]) -> Option<Vec<String>> {
        obj_path.map(|p| p.iter().chain(key).cloned().collect())
    }

    fn document(&mut self) -> PResult<RawObj> {
        self.skip_ws_nl();
        let prefix = self.prefix.clone();
        let root = if self.peek() == Some('{') {
            self.braced_object(Some(&prefix))?
        } else {
            self.object_body(false, Some(&prefix))?
        };
        self.skip_ws_nl();
        if self.peek().is_some() {
            return self.err(format!("unexpected {} after the root object", self.found()));
        }
        Ok(root)
    }

    fn braced_object(&mut self, path: Option<&[String]>) -> PResult<RawObj> {
        self.enter()?;
        self.bump(); // `{`
        let obj = self.object_body(true, path)?;
        self.depth -= 1;
        Ok(obj)
    }

    /// Fields up to `}` (when `closing`) or the end of the input.
    fn object_body(&mut self, closing: bool, path: Option<&[String]>) -> PResult<RawObj> {
        let mut obj = RawObj::new(self.origin());
        loop {
            self.skip_ws_nl();
            match self.peek() {
                None if closing => return self.err("unterminated object: `}` expected"),
                None => return Ok(obj),
                Some('}') if closing => {
                    self.bump();
                    return Ok(obj);
                }
                Some(',') => return self.err("unexpected `,` (a field is missing)"),
                _ => {}
            }
            if self.at_include() {
                self.include(&mut obj, path)?;
            } else {
                self.field(&mut obj, path)?;
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('\n') | None => {}
                Some('}') if closing => {}
                _ => {
                    return self.err(format!(
                        "expected `,` or a new line after a field, found {}",
                        self.found()
                    ));
                }
            }
        }
    }

    fn field(&mut self, obj: &mut RawObj, obj_path: Option<&[String]>) -> PResult<()> {
        let origin = self.origin();
        let key = self.path_expr(false)?;
        let extra = key.len() - 1;
        if self.depth + extra > MAX_DEPTH {
            return self.err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let field_path = self.path_of(obj_path, &key);
        self.skip_ws();
        self.depth += extra;
        let value = match self.peek() {
            Some('=' | ':') => {
                self.bump();
                self.skip_ws_nl();
                self.value(field_path.as_deref())?
            }
            Some('+') if self.rest().starts_with("+=") => {
                self.pos += 2;
                self.skip_ws_nl();
                let item = self.value(None)?;
                let Some(path) = field_path else {
                    return self.err("`+=` inside a list element is not supported");
                };
                // `a += x` is `a = ${?a} [x]`.
                let text = path.join(".");
                let own = Raw::Subst(Subst {
                    path,
                    alt: None,
                    text,
                    optional: true,
                    origin: origin.clone(),
                });
                Raw::Concat(
                    vec![
                        Part::Val(own),
                        Part::Val(Raw::Arr(vec![item], origin.clone())),
                    ],
                    origin.clone(),
                )
            }
            Some('{') => self.value(field_path.as_deref())?,
            _ => {
                return self.err(format!(
                    "expected `=`, `:` or `{{` after the key, found {}",
                    self.found()
                ));
            }
        };
        self.depth -= extra;
        define(obj, key, value, &origin);
        Ok(())
    }

    /// A value up to the end of the line, `,`, `}` or `]`: one token, or a
    /// concatenation of several.
    fn value(&mut self, field_path: Option<&[String]>) -> PResult<Raw> {
        let origin = self.origin();
        let mut parts = Vec::new();
        loop {
            let piece = match self.peek() {
                None | Some('\n' | ',' | '}' | ']') => break,
                _ if self.at_comment() => break,
                Some('{') => Raw::Obj(self.braced_object(field_path)?),
                Some('[') => self.array()?,
                Some('"') => {
                    let o = self.origin();
                    Raw::Lit(Value::new(ValueKind::String(self.quoted()?), o))
                }
                Some('$') if self.rest().starts_with("${") => self.substitution()?,
                Some(c) if is_unquoted(c) => {
                    let o = self.origin();
                    let text = self.unquoted();
                    Raw::Lit(literal(text, o))
                }
                Some(_) => return self.err(format!("unexpected {}", self.found())),
            };
            parts.push(Part::Val(piece));
            let start = self.pos;
            while self.peek().is_some_and(is_ws) {
                self.bump();
            }
            if self.pos > start {
                let ws = self.src.get(start..self.pos).unwrap_or(" ");
                parts.push(Part::Ws(ws.to_owned()));
            }
        }
        while matches!(parts.last(), Some(Part::Ws(_))) {
            parts.pop();
        }
        if parts.len() > 1 {
            return Ok(Raw::Concat(parts, origin));
        }
        match parts.pop() {
            Some(Part::Val(v)) => Ok(v),
            _ => self.err(format!("expected a value, found {}", self.found())),
        }
    }

    fn array(&mut self) -> PResult<Raw> {
        let origin = self.origin();
        self.enter()?;
        self.bump(); // `[`
        let mut items = Vec::new();
        loop {
            self.skip_ws_nl();
            match self.peek() {
                Some(']') => {
                    self.bump();
                    break;
                }
                None => return self.err("unterminated list: `]` expected"),
                Some(',') => return self.err("unexpected `,` in a list (an item is missing)"),
                _ => {}
            }
            items.push(self.value(None)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some('\n' | ']') => {}
                _ => {
                    return self.err(format!(
                        "expected `,`, a new line or `]` in a list, found {}",
                        self.found()
                    ));
                }
            }
        }
        self.depth -= 1;
        Ok(Raw::Arr(items, origin))
    }

    fn unquoted(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            let so_far = self.src.get(start..self.pos).unwrap_or("");
            // `1e+5`: a `+` right after a number's exponent marker.
            let exponent_sign = c == '+'
                && (so_far.ends_with('e') || so_far.ends_with('E'))
                && is_number(&format!("{so_far}0"));
            if !exponent_sign && (!is_unquoted(c) || self.rest().starts_with("//")) {
                break;
            }
            self.bump();
        }
        self.src.get(start..self.pos).unwrap_or("").to_owned()
    }

    fn quoted(&mut self) -> PResult<String> {
        if self.rest().starts_with("\"\"\"") {
            return self.triple_quoted();
        }
        let start = self.origin();
        self.bump();
        let mut s = String::new();
        loop {
            match self.bump() {
                None => {
                    return Err(HoconError::Syntax {
                        origin: start,
                        message: "unterminated quoted string".into(),
                    });
                }
                Some('"') => return Ok(s),
                Some('\n') => {
                    return Err(HoconError::Syntax {
                        origin: start,
                        message:
                            "new line inside a quoted string (write \\n, or use \"\"\"…\"\"\")"
                                .into(),
                    });
                }
                Some('\\') => s.push(self.escape()?),
                Some(c) => s.push(c),
            }
        }
    }

    fn escape(&mut self) -> PResult<char> {
        Ok(match self.bump() {
            Some(c @ ('"' | '\\' | '/')) => c,
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if !self.eat("\\u") {
                        return self.err("a \\u high surrogate must be followed by a low one");
                    }
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return self.err("a \\u high surrogate must be followed by a low one");
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                match char::from_u32(code) {
                    Some(c) => c,
                    None => return self.err(format!("\\u{code:04x} is not a character")),
                }
            }
            Some('\n') | None => return self.err("unterminated escape in a quoted string"),
            Some(c) => return self.err(format!("invalid escape `\\{c}` in a quoted string")),
        })
    }

    fn hex4(&mut self) -> PResult<u32> {
        let mut v = 0;
        for _ in 0..4 {
            match self.peek().and_then(|c| c.to_digit(16)) {
                Some(d) => {
                    self.bump();
                    v = v * 16 + d;
                }
                None => return self.err("expected four hex digits after \\u"),
            }
        }
        Ok(v)
    }

    fn triple_quoted(&mut self) -> PResult<String> {
        let start = self.origin();
        self.pos += 3;
        let rest = self.rest();
        let Some(end) = rest.find("\"\"\"") else {
            return Err(HoconError::Syntax {
                origin: start,
                message: "unterminated triple-quoted string".into(),
            });
        };
        // Quotes beyond three at the end belong to the string.
        let extra = rest
            .get(end + 3..)
            .unwrap_or("")
            .bytes()
            .take_while(|&b| b == b'"')
            .count();
        let content = rest.get(..end + extra).unwrap_or("").to_owned();
        let lines = u32::try_from(content.matches('\n').count()).unwrap_or(u32::MAX);
        self.line = self.line.saturating_add(lines);
        self.pos += end + extra + 3;
        Ok(content)
    }

    /// A path expression: a key (`a.b."c.d"`) or a substitution's path.
    fn path_expr(&mut self, in_subst: bool) -> PResult<Vec<String>> {
        let mut elems = vec![String::new()];
        let mut has_piece = false;
        let mut any = false;
        let mut ws = String::new();
        while let Some(c) = self.peek() {
            if is_ws(c) {
                ws.push(c);
                self.bump();
                continue;
            }
            if !in_subst && self.at_comment() {
                break;
            }
            if c == '"' {
                let s = self.quoted()?;
                if let Some(last) = elems.last_mut() {
                    if any {
                        last.push_str(&ws);
                    }
                    last.push_str(&s);
                }
                ws.clear();
                has_piece = true;
                any = true;
                continue;
            }
            if !is_unquoted(c) {
                break;
            }
            if any && let Some(last) = elems.last_mut() {
                last.push_str(&ws);
            }
            ws.clear();
            while let Some(c) = self.peek() {
                if !is_unquoted(c) || (!in_subst && self.rest().starts_with("//")) {
                    break;
                }
                self.bump();
                any = true;
                if c == '.' {
                    if !has_piece {
                        return self.err("empty key part (two dots in a row, or a leading dot)");
                    }
                    if elems.len() > MAX_DEPTH {
                        return self.err(format!("a path of more than {MAX_DEPTH} parts"));
                    }
                    elems.push(String::new());
                    has_piece = false;
                } else if let Some(last) = elems.last_mut() {
                    last.push(c);
                    has_piece = true;
                }
            }
        }
        if !any {
            let what = if in_subst {
                "a path in the substitution"
            } else {
                "a key"
            };
            return self.err(format!("expected {what}, found {}", self.found()));
        }
        if !has_piece {
            return self.err("empty key part (a trailing dot)");
        }
        Ok(elems)
    }

    fn substitution(&mut self) -> PResult<Raw> {
        let origin = self.origin();
        self.pos += 2; // `${`
        let optional = self.peek() == Some('?');
        if optional {
            self.bump();
        }
        let written = self.path_expr(true)?;
        if self.peek() != Some('}') {
            return self.err(format!(
                "expected `}}` to close the substitution, found {}",
                self.found()
            ));
        }
        self.bump();
        let text = written.join(".");
        let (path, alt) = if self.prefix.is_empty() {
            (written, None)
        } else {
            (
                self.prefix.iter().chain(&written).cloned().collect(),
                Some(written),
            )
        };
        Ok(Raw::Subst(Subst {
            path,
            alt,
            text,
            optional,
            origin,
        }))
    }

    fn at_include(&self) -> bool {
        let Some(after) = self.rest().strip_prefix("include") else {
            return false;
        };
        let spec = after.trim_start_matches(is_ws);
        spec.len() < after.len()
            && (spec.starts_with('"')
                || ["file(", "url(", "classpath(", "required("]
                    .iter()
                    .any(|f| spec.starts_with(f)))
    }

    fn include(&mut self, obj: &mut RawObj, obj_path: Option<&[String]>) -> PResult<()> {
        let origin = self.origin();
        self.pos += "include".len();
        self.skip_ws();
        let required = self.eat("required(");
        if required {
            self.skip_ws();
        }
        let kind = if self.eat("file(") {
            IncludeKind::File
        } else if self.eat("url(") {
            IncludeKind::Url
        } else if self.eat("classpath(") {
            IncludeKind::Classpath
        } else {
            IncludeKind::Heuristic
        };
        self.skip_ws();
        if self.peek() != Some('"') {
            return self.err(format!(
                "expected a quoted file name after `include`, found {}",
                self.found()
            ));
        }
        let name = self.quoted()?;
        let closers = usize::from(!matches!(kind, IncludeKind::Heuristic)) + usize::from(required);
        for _ in 0..closers {
            self.skip_ws();
            if !self.eat(")") {
                return self.err(format!(
                    "expected `)` in the include, found {}",
                    self.found()
                ));
            }
        }
        let Some(base) = obj_path else {
            return self.err("`include` inside a list element is not supported");
        };
        if let Some(included) = self.load_include(kind, &name, required, base, &origin)? {
            merge_into(obj, included);
        }
        Ok(())
    }

    fn load_include(
        &mut self,
        kind: IncludeKind,
        name: &str,
        required: bool,
        base: &[String],
        origin: &Origin,
    ) -> PResult<Option<RawObj>> {
        let path = {
            let p = Path::new(name);
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                self.dir.join(p)
            }
        };
        let candidates = match kind {
            IncludeKind::Url => {
                return self.err(
                    "`include url(…)` is not supported: copy the file and include it by name",
                );
            }
            // The focus has no class path: such resources are all missing.
            IncludeKind::Classpath => Vec::new(),
            IncludeKind::File => vec![path.clone()],
            IncludeKind::Heuristic if path.extension().is_some() => vec![path.clone()],
            IncludeKind::Heuristic => {
                vec![path.with_extension("conf"), path.with_extension("json")]
            }
        };
        if self.inc.stack.len() >= MAX_INCLUDE_DEPTH {
            return self.err(format!(
                "includes nested deeper than {MAX_INCLUDE_DEPTH} files"
            ));
        }
        for candidate in candidates {
            if self.inc.stack.contains(&candidate) {
                return self.err(format!(
                    "include cycle: {} includes itself",
                    candidate.display()
                ));
            }
            self.inc.count += 1;
            if self.inc.count > MAX_INCLUDES {
                return self.err(format!("more than {MAX_INCLUDES} includes"));
            }
            match (self.inc.read)(&candidate) {
                Ok(text) => {
                    self.inc.stack.push(candidate.clone());
                    let parsed = parse_file(&text, &candidate, base.to_vec(), self.depth, self.inc);
                    self.inc.stack.pop();
                    return parsed.map(Some);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(HoconError::Io {
                        path: candidate,
                        included_from: Some(origin.clone()),
                        source,
                    });
                }
            }
        }
        if required {
            return Err(HoconError::Io {
                path,
                included_from: Some(origin.clone()),
                source: io::ErrorKind::NotFound.into(),
            });
        }
        Ok(None)
    }
}

// ---------------------------------------------------------------------------
// Resolution.

/// The outcome of looking a path up in a key's definitions.
enum Look {
    /// Not defined there: look further down.
    Absent,
    /// Hidden by a non-object value: lower definitions do not count.
    Blocked,
    Found(Value),
}

struct Resolver<'t> {
    root: &'t RawObj,
    env: Env<'t>,
    /// Resolved non-object definitions, by node address.
    memo: HashMap<usize, Option<Value>>,
    /// Definitions being resolved (cycle detection).
    active: HashSet<usize>,
    depth: usize,
    budget: usize,
}

fn key_name(path: Option<&[String]>) -> String {
    match path {
        Some(p) if !p.is_empty() => p.join("."),
        Some(_) => "(root)".into(),
        None => "(a list element)".into(),
    }
}

fn node_origin(raw: &Raw) -> Origin {
    match raw {
        Raw::Obj(o) => o.origin.clone(),
        Raw::Arr(_, o) | Raw::Concat(_, o) => o.clone(),
        Raw::Lit(v) => v.origin.clone(),
        Raw::Subst(s) => s.origin.clone(),
    }
}

fn render(v: &Value) -> Option<&str> {
    match &v.kind {
        ValueKind::String(s) | ValueKind::Number(s) => Some(s),
        ValueKind::Bool(true) => Some("true"),
        ValueKind::Bool(false) => Some("false"),
        ValueKind::Null => Some("null"),
        ValueKind::Object(_) | ValueKind::Array(_) => None,
    }
}

impl<'t> Resolver<'t> {
    fn fail<T>(
        &self,
        path: Option<&[String]>,
        origin: &Origin,
        message: impl Into<String>,
    ) -> PResult<T> {
        Err(HoconError::Resolve {
            key: key_name(path),
            origin: origin.clone(),
            message: message.into(),
        })
    }

    fn enter(&mut self, path: Option<&[String]>, origin: &Origin) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_RESOLVE_DEPTH {
            return self.fail(path, origin, "substitutions nested too deeply");
        }
        Ok(())
    }

    fn charge(&mut self, cost: usize, path: Option<&[String]>, origin: &Origin) -> PResult<()> {
        match self.budget.checked_sub(cost) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => self.fail(
                path,
                origin,
                "substitutions expand to too large a configuration",
            ),
        }
    }

    fn resolve_obj(&mut self, obj: &'t RawObj, path: Option<&[String]>) -> PResult<Value> {
        let mut out = Object::default();
        for (key, defs) in &obj.fields.entries {
            let child = path.map(|p| p.iter().chain([key]).cloned().collect::<Vec<_>>());
            if let Look::Found(v) = self.lookup(defs, child.as_deref(), &[], &obj.origin)? {
                out.insert(key.clone(), v);
            }
        }
        self.charge(1 + out.len(), path, &obj.origin)?;
        Ok(Value::new(ValueKind::Object(out), obj.origin.clone()))
    }

    /// The value at `rest` below the definitions `defs` of the key at `path`.
    fn lookup(
        &mut self,
        defs: &'t [Raw],
        path: Option<&[String]>,
        rest: &[String],
        origin: &Origin,
    ) -> PResult<Look> {
        self.enter(path, origin)?;
        let r = self.lookup_inner(defs, path, rest);
        self.depth -= 1;
        r
    }

    fn lookup_inner(
        &mut self,
        defs: &'t [Raw],
        path: Option<&[String]>,
        rest: &[String],
    ) -> PResult<Look> {
        let mut acc: Option<Value> = None;
        for i in (0..defs.len()).rev() {
            let (Some(def), Some(below)) = (defs.get(i), defs.get(..i)) else {
                break;
            };
            let found = match def {
                Raw::Obj(o) => match rest.split_first() {
                    None => Look::Found(self.resolve_obj(o, path)?),
                    Some((first, more)) => match o.fields.get(first) {
                        None => Look::Absent,
                        Some(sub) => {
                            let child =
                                path.map(|p| p.iter().chain([first]).cloned().collect::<Vec<_>>());
                            self.lookup(sub, child.as_deref(), more, &o.origin)?
                        }
                    },
                },
                _ => match self.resolve_def(def, below, path)? {
                    None => Look::Absent,
                    Some(v) => descend(v, rest),
                },
            };
            match found {
                Look::Absent => {}
                Look::Blocked => return Ok(acc.map_or(Look::Blocked, Look::Found)),
                Look::Found(v) => {
                    if !matches!(v.kind, ValueKind::Object(_)) {
                        return Ok(Look::Found(acc.unwrap_or(v)));
                    }
                    acc = Some(match acc {
                        None => v,
                        Some(newer) => self.merge(newer, v, path)?,
                    });
                }
            }
        }
        Ok(acc.map_or(Look::Absent, Look::Found))
    }

    /// `newer` merged over `older` (both objects; otherwise `newer` wins).
    fn merge(&mut self, newer: Value, older: Value, path: Option<&[String]>) -> PResult<Value> {
        let (ValueKind::Object(new), ValueKind::Object(mut out)) = (newer.kind, older.kind) else {
            return Err(HoconError::Resolve {
                key: key_name(path),
                origin: newer.origin,
                message: "internal: merging non-objects".into(),
            });
        };
        self.charge(1 + new.len(), path, &newer.origin)?;
        for (key, value) in new.map.entries {
            let merged = match out.map.get_mut(&key) {
                Some(old)
                    if matches!(
                        (&old.kind, &value.kind),
                        (ValueKind::Object(_), ValueKind::Object(_))
                    ) =>
                {
                    let old =
                        std::mem::replace(old, Value::new(ValueKind::Null, value.origin.clone()));
                    self.merge(value, old, path)?
                }
                _ => value,
            };
            out.insert(key, merged);
        }
        Ok(Value::new(ValueKind::Object(out), newer.origin))
    }

    /// Resolves one non-object definition (memoized), `below` being the
    /// key's earlier definitions (what a self-reference sees).
    fn resolve_def(
        &mut self,
        def: &'t Raw,
        below: &'t [Raw],
        path: Option<&[String]>,
    ) -> PResult<Option<Value>> {
        let id = std::ptr::from_ref(def) as usize;
        let origin = node_origin(def);
        if let Some(known) = self.memo.get(&id) {
            let known = known.clone();
            let cost = known.as_ref().map_or(1, |v| v.measure().0);
            self.charge(cost, path, &origin)?;
            return Ok(known);
        }
        if !self.active.insert(id) {
            return self.fail(
                path,
                &origin,
                "the value depends on itself (substitution cycle)",
            );
        }
        let resolved = self.resolve_node(def, below, path);
        self.active.remove(&id);
        let resolved = resolved?;
        if let Some(v) = &resolved {
            let (size, depth) = v.measure();
            if depth > MAX_VALUE_DEPTH {
                return self.fail(
                    path,
                    &origin,
                    format!("nested deeper than {MAX_VALUE_DEPTH} levels"),
                );
            }
            self.charge(size, path, &origin)?;
        }
        self.memo.insert(id, resolved.clone());
        Ok(resolved)
    }

    fn resolve_node(
        &mut self,
        node: &'t Raw,
        below: &'t [Raw],
        path: Option<&[String]>,
    ) -> PResult<Option<Value>> {
        let origin = node_origin(node);
        self.enter(path, &origin)?;
        let r = match node {
            Raw::Lit(v) => Ok(Some(v.clone())),
            Raw::Obj(o) => self.resolve_obj(o, path).map(Some),
            Raw::Subst(s) => self.substitute(s, below, path),
            Raw::Concat(parts, origin) => self.concat(parts, origin, below, path),
            Raw::Arr(items, origin) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let v = match item {
                        // Objects in lists have no path of their own.
                        Raw::Obj(o) => Some(self.resolve_obj(o, None)?),
                        other => self.resolve_node(other, below, path)?,
                    };
                    out.extend(v);
                }
                Ok(Some(Value::new(ValueKind::Array(out), origin.clone())))
            }
        };
        self.depth -= 1;
        r
    }

    fn lookup_root(&mut self, target: &[String]) -> PResult<Option<Value>> {
        let Some((first, more)) = target.split_first() else {
            return Ok(None);
        };
        let root = self.root;
        let Some(defs) = root.fields.get(first) else {
            return Ok(None);
        };
        match self.lookup(defs, Some(std::slice::from_ref(first)), more, &root.origin)? {
            Look::Found(v) => Ok(Some(v)),
            Look::Absent | Look::Blocked => Ok(None),
        }
    }

    fn substitute(
        &mut self,
        s: &'t Subst,
        below: &'t [Raw],
        path: Option<&[String]>,
    ) -> PResult<Option<Value>> {
        // A reference to the key being defined (or into it) sees the key's
        // earlier definitions: `a = ${a} [x]`.
        let own = path.filter(|p| !p.is_empty() && s.path.starts_with(p));
        if let Some(p) = own {
            let rest = s.path.get(p.len()..).unwrap_or(&[]);
            if let Look::Found(v) = self.lookup(below, Some(p), rest, &s.origin)? {
                return Ok(Some(v));
            }
        } else {
            if let Some(v) = self.lookup_root(&s.path)? {
                return Ok(Some(v));
            }
            if let Some(alt) = &s.alt
                && let Some(v) = self.lookup_root(alt)?
            {
                return Ok(Some(v));
            }
        }
        if let Some(text) = (self.env)(&s.text) {
            self.charge(1 + text.len() / 32, path, &s.origin)?;
            return Ok(Some(Value::new(ValueKind::String(text), s.origin.clone())));
        }
        if s.optional {
            return Ok(None);
        }
        self.fail(
            path,
            &s.origin,
            format!(
                "${{{}}} is not set (neither in the configuration nor in the environment)",
                s.text
            ),
        )
    }

    fn concat(
        &mut self,
        parts: &'t [Part],
        origin: &Origin,
        below: &'t [Raw],
        path: Option<&[String]>,
    ) -> PResult<Option<Value>> {
        enum Item<'a> {
            Ws(&'a str),
            V(Value),
        }
        let mut items = Vec::with_capacity(parts.len());
        for part in parts {
            match part {
                Part::Ws(ws) => items.push(Item::Ws(ws)),
                Part::Val(raw) => {
                    if let Some(v) = self.resolve_node(raw, below, path)? {
                        items.push(Item::V(v));
                    }
                }
            }
        }
        // Whitespace only counts between values.
        while matches!(items.last(), Some(Item::Ws(_))) {
            items.pop();
        }
        let first = items
            .iter()
            .position(|i| matches!(i, Item::V(_)))
            .unwrap_or(items.len());
        items.drain(..first);
        let values = items.iter().filter(|i| matches!(i, Item::V(_))).count();
        if values == 0 {
            return Ok(None);
        }
        if items.len() == 1 {
            return Ok(items.pop().and_then(|i| match i {
                Item::V(v) => Some(v),
                Item::Ws(_) => None,
            }));
        }
        let any =
            |f: fn(&ValueKind) -> bool| items.iter().any(|i| matches!(i, Item::V(v) if f(&v.kind)));
        let objects = any(|k| matches!(k, ValueKind::Object(_)));
        let arrays = any(|k| matches!(k, ValueKind::Array(_)));
        let scalars = any(|k| !matches!(k, ValueKind::Object(_) | ValueKind::Array(_)));
        if usize::from(objects) + usize::from(arrays) + usize::from(scalars) > 1 {
            let what = |b: bool, s: &'static str| if b { Some(s) } else { None };
            let kinds: Vec<_> = [
                what(objects, "an object"),
                what(arrays, "a list"),
                what(scalars, "a string"),
            ]
            .into_iter()
            .flatten()
            .collect();
            return self.fail(
                path,
                origin,
                format!("cannot concatenate {}", kinds.join(" with ")),
            );
        }
        if objects {
            let mut acc: Option<Value> = None;
            for item in items {
                if let Item::V(v) = item {
                    acc = Some(match acc {
                        None => v,
                        Some(older) => self.merge(v, older, path)?,
                    });
                }
            }
            return Ok(acc);
        }
        if arrays {
            let mut out = Vec::new();
            for item in items {
                if let Item::V(Value {
                    kind: ValueKind::Array(elems),
                    ..
                }) = item
                {
                    self.charge(elems.len(), path, origin)?;
                    out.extend(elems);
                }
            }
            return Ok(Some(Value::new(ValueKind::Array(out), origin.clone())));
        }
        let mut text = String::new();
        for item in &items {
            let piece = match item {
                Item::V(v) => render(v).unwrap_or(""),
                Item::Ws(ws) => ws,
            };
            self.charge(1 + piece.len() / 32, path, origin)?;
            text.push_str(piece);
        }
        Ok(Some(Value::new(ValueKind::String(text), origin.clone())))
    }
}

/// The part of `v` at `rest`.
fn descend(v: Value, rest: &[String]) -> Look {
    let mut v = v;
    for key in rest {
        match v.kind {
            ValueKind::Object(o) => match o.take(key) {
                Some(inner) => v = inner,
                None => return Look::Absent,
            },
            _ => return Look::Blocked,
        }
    }
    Look::Found(v)
}

#[cfg(test)]
mod tests;
