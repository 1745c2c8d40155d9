//! Parser and resolver tests, one HOCON feature at a time.

use std::collections::HashMap;

use super::*;

fn parse(text: &str) -> Value {
    parse_str(text, "t.conf", &no_env).unwrap_or_else(|e| panic!("{e}"))
}

fn parse_env(text: &str, vars: &[(&str, &str)]) -> Result<Value, HoconError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    parse_str(text, "t.conf", &|k| vars.get(k).cloned())
}

fn err(text: &str) -> String {
    match parse_str(text, "t.conf", &no_env) {
        Ok(v) => panic!("parsed: {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    if path.is_empty() {
        return v;
    }
    v.get_path(path)
        .unwrap_or_else(|| panic!("no {path} in {v:#?}"))
}

fn text(v: &Value, path: &str) -> String {
    match &at(v, path).kind {
        ValueKind::String(s) => s.clone(),
        other => panic!("{path} is {other:?}, not a string"),
    }
}

fn num(v: &Value, path: &str) -> String {
    match &at(v, path).kind {
        ValueKind::Number(s) => s.clone(),
        other => panic!("{path} is {other:?}, not a number"),
    }
}

fn list(v: &Value, path: &str) -> Vec<String> {
    match &at(v, path).kind {
        ValueKind::Array(items) => items
            .iter()
            .map(|i| match &i.kind {
                ValueKind::Array(_) => "[list]".to_owned(),
                ValueKind::Object(_) => "{object}".to_owned(),
                _ => i
                    .as_str()
                    .map_or_else(|| format!("{:?}", i.kind), str::to_owned),
            })
            .collect(),
        other => panic!("{path} is {other:?}, not a list"),
    }
}

fn keys(v: &Value, path: &str) -> Vec<String> {
    let o = if path.is_empty() { v } else { at(v, path) };
    o.as_object()
        .unwrap_or_else(|| panic!("{path} is not an object"))
        .iter()
        .map(|(k, _)| k.to_owned())
        .collect()
}

/// A reader over in-memory files.
fn files(list: &[(&str, &str)]) -> impl Fn(&Path) -> io::Result<String> + use<> {
    let map: HashMap<PathBuf, String> = list
        .iter()
        .map(|(p, t)| (PathBuf::from(p), (*t).to_owned()))
        .collect();
    move |p: &Path| {
        map.get(p)
            .cloned()
            .ok_or_else(|| io::ErrorKind::NotFound.into())
    }
}

#[test]
fn nested_objects_and_dotted_keys_merge() {
    let v = parse("a { b { c = 1 } }\na.b.d = 2\na { e = x }\n");
    assert_eq!(num(&v, "a.b.c"), "1");
    assert_eq!(num(&v, "a.b.d"), "2");
    assert_eq!(text(&v, "a.e"), "x");
    assert_eq!(keys(&v, "a"), ["b", "e"]);
    assert_eq!(keys(&v, "a.b"), ["c", "d"]);
}

#[test]
fn separators() {
    let v = parse("a = 1\nb : 2\nc { d = 3 }\ne { f: 4 }, g = 5, h = 6,\n\"i\": 7");
    for (k, n) in [
        ("a", "1"),
        ("b", "2"),
        ("c.d", "3"),
        ("e.f", "4"),
        ("g", "5"),
        ("h", "6"),
        ("i", "7"),
    ] {
        assert_eq!(num(&v, k), n, "{k}");
    }
    // JSON.
    let v = parse(r#"{ "x": { "enabled": true, "port": 5222 }, "y": [1, 2] }"#);
    assert_eq!(at(&v, "x.enabled").kind, ValueKind::Bool(true));
    assert_eq!(list(&v, "y"), ["1", "2"]);
    // Value on the line after the separator.
    assert_eq!(num(&parse("a =\n  1"), "a"), "1");
    assert!(err("a = 1,, b = 2").contains("unexpected `,`"));
    assert!(err("a = 1 b = 2").contains("t.conf:1"));
    assert!(err("a 1").contains("expected `=`, `:` or `{`"));
    assert!(err("= 1").contains("expected a key"));
    assert!(err("a = ").contains("expected a value"));
    assert!(err("a { b = 1").contains("unterminated object"));
    assert!(err("a = 1 }").contains("`}`"));
}

#[test]
fn comments() {
    let v = parse(
        "# hash comment\n// slash comment\na = 1 // trailing\nb = \"not // a comment\" # trailing\n\
         c = [ 1, # one\n 2 // two\n ]\nd { // open\n e = 3\n}\n",
    );
    assert_eq!(num(&v, "a"), "1");
    assert_eq!(text(&v, "b"), "not // a comment");
    assert_eq!(list(&v, "c"), ["1", "2"]);
    assert_eq!(num(&v, "d.e"), "3");
    assert_eq!(keys(&v, ""), ["a", "b", "c", "d"]);
}

#[test]
fn quoted_strings_and_escapes() {
    let v = parse(r#"a = "tab\there \"q\" back\\slash \/ \u00e9 \ud83d\ude00 nl\n""#);
    assert_eq!(text(&v, "a"), "tab\there \"q\" back\\slash / é 😀 nl\n");
    assert!(err(r#"a = "bad \x escape""#).contains("invalid escape"));
    assert!(err(r#"a = "\ud83d alone""#).contains("surrogate"));
    assert!(err(r#"a = "\u12""#).contains("hex digits"));
    assert!(err("a = \"no end").contains("unterminated quoted string"));
    assert!(err("a = \"two\nlines\"").contains("new line inside a quoted string"));
}

#[test]
fn triple_quoted_strings() {
    let v = parse(
        "a = \"\"\"first \"line\"\nsecond \\n raw\"\"\"\nb = \"\"\"\"\"quoted\"\"\"\"\"\nc = 1",
    );
    assert_eq!(text(&v, "a"), "first \"line\"\nsecond \\n raw");
    assert_eq!(text(&v, "b"), "\"\"quoted\"\"");
    // Line numbers continue after a multi-line string.
    assert_eq!(at(&v, "c").origin.line, 4);
    assert!(err("a = \"\"\"open").contains("unterminated triple-quoted"));
}

#[test]
fn unquoted_strings_numbers_and_literals() {
    let v = parse(
        "s = SingleBridgeSelectionStrategy\nt = JWT\nmuc = muc.v0.meet.jitsi\nip = 10.0.0.9\n\
         dash = auth-meet_jitsi\np = 5222\nf = 0.01\nneg = -1\nexp = 1e+5\ny = true\nn = false\nz = null\nu = 20s\n",
    );
    assert_eq!(text(&v, "s"), "SingleBridgeSelectionStrategy");
    assert_eq!(text(&v, "t"), "JWT");
    assert_eq!(text(&v, "muc"), "muc.v0.meet.jitsi");
    assert_eq!(text(&v, "ip"), "10.0.0.9");
    assert_eq!(text(&v, "dash"), "auth-meet_jitsi");
    assert_eq!(num(&v, "p"), "5222");
    assert_eq!(num(&v, "f"), "0.01");
    assert_eq!(num(&v, "neg"), "-1");
    assert_eq!(num(&v, "exp"), "1e+5");
    assert_eq!(at(&v, "y").kind, ValueKind::Bool(true));
    assert_eq!(at(&v, "n").kind, ValueKind::Bool(false));
    assert_eq!(at(&v, "z").kind, ValueKind::Null);
    assert_eq!(text(&v, "u"), "20s");
    assert!(err("a = b?c").contains("unexpected `?`"));
}

#[test]
fn value_concatenation() {
    let v = parse(
        "a = 24 hours\nb = foo \"bar\" baz\nc = 1 2\nd = two  spaces\ne = true story\nf = \"x\"\"y\"\n\
         g = [1, 2] [3]\nh = { x = 1 } { y = 2 }\n",
    );
    assert_eq!(text(&v, "a"), "24 hours");
    assert_eq!(text(&v, "b"), "foo bar baz");
    assert_eq!(text(&v, "c"), "1 2");
    assert_eq!(text(&v, "d"), "two  spaces");
    assert_eq!(text(&v, "e"), "true story");
    assert_eq!(text(&v, "f"), "xy");
    assert_eq!(list(&v, "g"), ["1", "2", "3"]);
    assert_eq!(keys(&v, "h"), ["x", "y"]);
    assert!(err("a = [1] x").contains("cannot concatenate a list with a string"));
    assert!(err("a = { b = 1 } [2]").contains("cannot concatenate an object with a list"));
}

#[test]
fn quoted_and_numeric_keys() {
    let v = parse(
        "headers { \"CF-Access-Client-Id\" = id, \"Authorization\" = \"Bearer x\" }\n\"a.b\" = 1\n\
         x.\"y.z\".w = 2\ndelays { 50 = 500, 100 = 1000 }\n\"\" = empty\nspaced key = 3\n",
    );
    let headers = at(&v, "headers")
        .as_object()
        .map(|o| o.get("CF-Access-Client-Id").cloned());
    assert_eq!(
        headers
            .flatten()
            .and_then(|h| h.as_str().map(str::to_owned))
            .as_deref(),
        Some("id")
    );
    assert_eq!(text(&v, "headers.Authorization"), "Bearer x");
    let root = v.as_object().map(|o| o.get("a.b").is_some());
    assert_eq!(root, Some(true));
    let x = at(&v, "x")
        .as_object()
        .and_then(|o| o.get("y.z"))
        .and_then(|yz| yz.get_path("w"));
    assert_eq!(x.and_then(Value::as_str), Some("2"));
    assert_eq!(keys(&v, "delays"), ["50", "100"]);
    assert_eq!(num(&v, "delays.100"), "1000");
    assert_eq!(
        v.as_object()
            .and_then(|o| o.get(""))
            .and_then(Value::as_str),
        Some("empty")
    );
    assert_eq!(
        v.as_object()
            .and_then(|o| o.get("spaced key"))
            .and_then(Value::as_str),
        Some("3")
    );
    assert!(err("a..b = 1").contains("empty key part"));
    assert!(err(".a = 1").contains("empty key part"));
    assert!(err("a. = 1").contains("empty key part"));
}

#[test]
fn lists() {
    let v = parse(
        "a = [ \"recorder.example.com\" ]\nb = []\nc = [\n  [\"us-east\", \"us-west\"],\n  [\"eu-central\", \"eu-west\"]\n]\n\
         d = [\n 1\n 2\n]\ne = [ 1, 2, ]\nf = [ { x = 1 }, { x = 2 } ]\n",
    );
    assert_eq!(list(&v, "a"), ["recorder.example.com"]);
    assert_eq!(list(&v, "b"), Vec::<String>::new());
    assert_eq!(list(&v, "c"), ["[list]", "[list]"]);
    let ValueKind::Array(groups) = &at(&v, "c").kind else {
        panic!()
    };
    assert_eq!(list(&groups[1], ""), ["eu-central", "eu-west"]);
    assert_eq!(list(&v, "d"), ["1", "2"]);
    assert_eq!(list(&v, "e"), ["1", "2"]);
    assert_eq!(list(&v, "f"), ["{object}", "{object}"]);
    assert!(err("a = [1,,2]").contains("an item is missing"));
    assert!(err("a = [1").contains("`]`"));
    assert!(err("a = [1 }").contains("in a list"));
}

#[test]
fn repeated_keys_merge_objects_and_replace_others() {
    let v = parse(
        "a { x = 1, y = 1 }\na { y = 2, z = 2 }\nb = 1\nb = 2\nc { x = 1 }\nc = 5\nd = 5\nd { y = 2 }\ne { x = 1 }\ne = 5\ne { y = 2 }\n",
    );
    assert_eq!(
        (num(&v, "a.x"), num(&v, "a.y"), num(&v, "a.z")),
        ("1".into(), "2".into(), "2".into())
    );
    assert_eq!(num(&v, "b"), "2");
    assert_eq!(num(&v, "c"), "5");
    assert_eq!(keys(&v, "d"), ["y"]);
    // A non-object in between cuts the merge.
    assert_eq!(keys(&v, "e"), ["y"]);
}

#[test]
fn append() {
    let v = parse("a = [1]\na += 2\na += [3]\nb += x\nc { d = [\"p\"] }\nc { d += q }\n");
    assert_eq!(list(&v, "a"), ["1", "2", "[list]"]);
    assert_eq!(list(&v, "b"), ["x"]);
    assert_eq!(list(&v, "c.d"), ["p", "q"]);
    assert!(err("a = foo\na += 1").contains("cannot concatenate"));
}

#[test]
fn includes_relative_to_the_including_file() {
    let read = files(&[
        (
            "/etc/jitsi/jicofo/jicofo.conf",
            "a = 1\ninclude \"custom.conf\"\nb = 1\nsub { include file(\"more/inner.conf\") }\n",
        ),
        ("/etc/jitsi/jicofo/custom.conf", "a = 2\nb = 2\nc = 2\n"),
        (
            "/etc/jitsi/jicofo/more/inner.conf",
            "x = 1\ny = ${x}\ninclude \"deeper\"\n",
        ),
        // Relative to inner.conf, found with `.conf` appended.
        ("/etc/jitsi/jicofo/more/deeper.conf", "z = 3\n"),
    ]);
    let doc = Document::load(Path::new("/etc/jitsi/jicofo/jicofo.conf"), &read)
        .unwrap_or_else(|e| panic!("{e}"));
    let v = doc.resolve(&no_env).unwrap_or_else(|e| panic!("{e}"));
    // The include sits between the two definitions of `b`.
    assert_eq!(num(&v, "a"), "2");
    assert_eq!(num(&v, "b"), "1");
    assert_eq!(num(&v, "c"), "2");
    assert_eq!(
        at(&v, "c").origin.file.as_ref(),
        "/etc/jitsi/jicofo/custom.conf"
    );
    // `${x}` inside the file included under `sub` means `${sub.x}`.
    assert_eq!(num(&v, "sub.y"), "1");
    assert_eq!(num(&v, "sub.z"), "3");
}

#[test]
fn missing_includes_are_skipped_unless_required() {
    let read = files(&[(
        "/c/main.conf",
        "a = 1\ninclude \"custom-jicofo.conf\"\ninclude classpath(\"x.conf\")\n",
    )]);
    let v = Document::load(Path::new("/c/main.conf"), &read).and_then(|d| d.resolve(&no_env));
    assert_eq!(v.map(|v| num(&v, "a")).ok().as_deref(), Some("1"));

    let read = files(&[("/c/main.conf", "include required(file(\"gone.conf\"))\n")]);
    let e = Document::load(Path::new("/c/main.conf"), &read)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/c/gone.conf") && e.contains("included at /c/main.conf:1"),
        "{e}"
    );

    let e = Document::load(Path::new("/c/none.conf"), &read)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("/c/none.conf: cannot read"), "{e}");

    // Other read errors are reported.
    let denied = |p: &Path| -> io::Result<String> {
        if p == Path::new("/c/main.conf") {
            Ok("include \"secret.conf\"".into())
        } else {
            Err(io::ErrorKind::PermissionDenied.into())
        }
    };
    let e = Document::load(Path::new("/c/main.conf"), &denied)
        .unwrap_err()
        .to_string();
    assert!(e.contains("/c/secret.conf"), "{e}");

    assert!(err("include url(\"http://example.com/x.conf\")").contains("not supported"));
    assert!(err("a = [ { include \"x\" } ]").contains("inside a list"));
}

#[test]
fn include_cycles_and_depth_are_bounded() {
    let read = files(&[
        ("/c/a.conf", "include \"b.conf\""),
        ("/c/b.conf", "include \"a.conf\""),
    ]);
    let e = Document::load(Path::new("/c/a.conf"), &read)
        .unwrap_err()
        .to_string();
    assert!(e.contains("include cycle"), "{e}");

    // Each file includes the next: deeper than allowed.
    let many: Vec<(String, String)> = (0..40)
        .map(|i| {
            (
                format!("/d/{i}.conf"),
                format!("include \"{}.conf\"", i + 1),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = many.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let read = files(&refs);
    let e = Document::load(Path::new("/d/0.conf"), &read)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nested deeper"), "{e}");

    // A file included over and over.
    let body = "include \"x.conf\"\n".repeat(300);
    let read = files(&[("/e/main.conf", body.as_str()), ("/e/x.conf", "a = 1")]);
    let e = Document::load(Path::new("/e/main.conf"), &read)
        .unwrap_err()
        .to_string();
    assert!(e.contains("more than"), "{e}");
}

#[test]
fn substitutions_resolve_after_merging_layers() {
    let mut doc = Document::parse(
        "jicofo.xmpp.client { username = focus, resource = ${jicofo.xmpp.client.username} }",
        "reference.conf",
        &no_files,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let user = Document::parse(
        "jicofo.xmpp.client.username = jicofo\n",
        "user.conf",
        &no_files,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    doc.merge(user);
    let v = doc.resolve(&no_env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&v, "jicofo.xmpp.client.resource"), "jicofo");
    // Within one document too: a later override counts.
    let v = parse("a { x = 1, y = ${a.x} }\na.x = 5\n");
    assert_eq!(num(&v, "a.y"), "5");
    // Substitutions keep their type; objects and lists too.
    let v = parse("n = 5\nm = ${n}\no { p = 1 }\nq = ${o}\nr = [1]\ns = ${r}\n");
    assert_eq!(num(&v, "m"), "5");
    assert_eq!(num(&v, "q.p"), "1");
    assert_eq!(list(&v, "s"), ["1"]);
    // Inside strings.
    let v = parse("d = example.com\nmuc = conference.${d}\nq = \"x\"${d}\"y\"\n");
    assert_eq!(text(&v, "muc"), "conference.example.com");
    assert_eq!(text(&v, "q"), "xexample.comy");
    // Merged with an object.
    let v = parse("base { a = 1, b = 1 }\nderived = ${base} { b = 2 }\n");
    assert_eq!(
        (num(&v, "derived.a"), num(&v, "derived.b")),
        ("1".into(), "2".into())
    );
}

#[test]
fn environment_fallback() {
    let v = parse_env(
        "p = ${?JICOFO_AUTH_PASSWORD}\nq = ${HOME}\nr = default\nr = ${?UNSET}\ns = ${?UNSET}\nu = x\nu = ${?u}y\n",
        &[("JICOFO_AUTH_PASSWORD", "s3cret"), ("HOME", "/root")],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&v, "p"), "s3cret");
    assert_eq!(text(&v, "q"), "/root");
    // An unset optional substitution leaves the earlier value alone ...
    assert_eq!(text(&v, "r"), "default");
    // ... and otherwise leaves the key out.
    assert!(v.get_path("s").is_none());
    assert_eq!(text(&v, "u"), "xy");
    // The tree wins over the environment.
    let v = parse_env("HOME = tree\nq = ${HOME}", &[("HOME", "/root")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text(&v, "q"), "tree");
    // In lists, an unset optional element is left out.
    let v = parse("l = [a, ${?NOPE}, b]");
    assert_eq!(list(&v, "l"), ["a", "b"]);
}

#[test]
fn unresolved_substitution_names_key_and_file() {
    let e = parse_str(
        "\n\njicofo.xmpp.client.password = ${JICOFO_AUTH_PASSWORD}",
        "/etc/j.conf",
        &no_env,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("/etc/j.conf:3"), "{e}");
    assert!(e.contains("jicofo.xmpp.client.password"), "{e}");
    assert!(e.contains("${JICOFO_AUTH_PASSWORD} is not set"), "{e}");
}

#[test]
fn cycles_are_detected() {
    assert!(err("a = ${b}\nb = ${a}").contains("depends on itself"));
    assert!(err("a = ${a}").contains("is not set"));
    assert!(err("a { b = ${a} }").contains("depends on itself"));
    assert!(err("a = ${b}x\nb = ${c}\nc = [${a}]").contains("depends on itself"));
}

#[test]
fn self_references_see_the_previous_value() {
    let v = parse(
        "path = \"/bin\"\npath = ${path}\":/usr/bin\"\nl = [1]\nl = ${l} [2]\no { a = 1 }\no = ${o} { b = 2 }\n",
    );
    assert_eq!(text(&v, "path"), "/bin:/usr/bin");
    assert_eq!(list(&v, "l"), ["1", "2"]);
    assert_eq!(keys(&v, "o"), ["a", "b"]);
    // `foo : { a : 1 }, foo : ${foo.a}`.
    let v = parse("foo { a = 1 }\nfoo = ${foo.a}\n");
    assert_eq!(num(&v, "foo"), "1");
}

#[test]
fn origins_name_file_and_line() {
    let v = parse_str(
        "jicofo {\n  xmpp {\n    client {\n      port = \"5222\"\n    }\n  }\n}\n",
        "/etc/jitsi/jicofo/jicofo.conf",
        &no_env,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let port = at(&v, "jicofo.xmpp.client.port");
    assert_eq!(port.origin.to_string(), "/etc/jitsi/jicofo/jicofo.conf:4");
    assert_eq!(port.kind, ValueKind::String("5222".into()));
    let e = err("a = 1\nb = {\n  c = [1,\n  2 3 }\n");
    assert!(e.starts_with("t.conf:4:"), "{e}");
}

#[test]
fn crlf_line_endings_and_byte_order_mark() {
    let v = parse("\u{feff}jicofo {\r\n  a = 1\r\n  b = 24 hours\r\n  c = \"x\"\r\n}\r\n");
    assert_eq!(num(&v, "jicofo.a"), "1");
    assert_eq!(text(&v, "jicofo.b"), "24 hours");
    assert_eq!(text(&v, "jicofo.c"), "x");
    assert_eq!(at(&v, "jicofo.c").origin.line, 4);
}

#[test]
fn root_braces() {
    let v = parse("{ a = 1 }");
    assert_eq!(num(&v, "a"), "1");
    assert!(err("{ a = 1 } b = 2").contains("after the root object"));
    assert!(err("[1, 2]").contains("expected a key"));
}

#[test]
fn nesting_is_bounded() {
    let deep = "[".repeat(10_000);
    assert!(err(&format!("a = {deep}")).contains("nested deeper"));
    let deep = "a { ".repeat(10_000);
    assert!(err(&deep).contains("nested deeper"));
    let dotted = vec!["a"; 10_000].join(".");
    assert!(err(&format!("{dotted} = 1")).contains("more than"));
    // Dotted keys count towards the depth inside nested objects.
    let nested = format!(
        "{}{} = 1{}",
        "x { ".repeat(40),
        vec!["a"; 40].join("."),
        " }".repeat(40)
    );
    assert!(err(&nested).contains("nested deeper"));
}

#[test]
fn substitution_chains_are_bounded() {
    // A long chain: either resolves or fails cleanly, without exhausting the stack.
    let mut text = String::from("k0 = end\n");
    for i in 1..5000 {
        text.push_str(&format!("k{i} = ${{k{}}}\n", i - 1));
    }
    let _ = parse_str(&text, "t.conf", &no_env);
    let mut reversed = String::new();
    for i in 1..5000 {
        reversed.push_str(&format!("k{} = ${{k{i}}}\n", i - 1));
    }
    reversed.push_str("k4999 = end\n");
    let e = parse_str(&reversed, "t.conf", &no_env)
        .unwrap_err()
        .to_string();
    assert!(e.contains("too deeply"), "{e}");
}

#[test]
fn substitution_blow_up_is_bounded() {
    let mut text = String::from("a0 = xxxxxxxxxxxxxxxx\n");
    for i in 1..64 {
        text.push_str(&format!("a{i} = ${{a{}}}${{a{}}}\n", i - 1, i - 1));
    }
    let e = parse_str(&text, "t.conf", &no_env).unwrap_err().to_string();
    assert!(e.contains("too large"), "{e}");
    let mut text = String::from("a0 = [1, 2]\n");
    for i in 1..64 {
        text.push_str(&format!("a{i} = ${{a{}}} ${{a{}}}\n", i - 1, i - 1));
    }
    let e = parse_str(&text, "t.conf", &no_env).unwrap_err().to_string();
    assert!(e.contains("too large"), "{e}");
    // Values nested ever deeper through substitutions.
    let mut text = String::from("a0 = 1\n");
    for i in 1..400 {
        text.push_str(&format!("a{i} {{ x = ${{a{}}} }}\n", i - 1));
    }
    let e = parse_str(&text, "t.conf", &no_env).unwrap_err().to_string();
    assert!(e.contains("nested") || e.contains("too deeply"), "{e}");
}

#[test]
fn oversized_input_is_refused() {
    let big = "#".repeat(MAX_INPUT + 1);
    assert!(err(&big).contains("larger than"));
}

#[test]
fn describe_values() {
    let v = parse("s = abc\nn = 5\nb = true\nz = null\nl = []\no {}\n");
    let d = |p| at(&v, p).describe();
    assert_eq!(
        [d("s"), d("n"), d("b"), d("z"), d("l"), d("o")],
        [
            "\"abc\"",
            "number 5",
            "boolean true",
            "null",
            "a list",
            "an object"
        ]
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// Arbitrary text never panics the parser.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_str(&text, "p.conf", &no_env);
    }

    /// Text made of HOCON's own characters, which reaches deeper.
    #[test]
    fn hocon_like_text_never_panics(text in "[a-c0-9 .=:,{}\\[\\]$?\"#/+\n\\\\u-]{0,200}") {
        let _ = parse_str(&text, "p.conf", &|k| (k == "a").then(|| "env".to_owned()));
    }

    /// Concatenated snippets of real syntax.
    #[test]
    fn snippets_never_panic(parts in proptest::collection::vec(proptest::sample::select(vec![
        "a", "b.c", "\"q.k\"", " = ", ": ", " += ", "{", "}", "[", "]", ", ", "\n", "${a}", "${?b.c}",
        "${?X}", "1", "true", "null", "\"s\"", "\"\"\"t\"\"\"", "24 hours", "# c\n", "// c\n",
        "include \"x\"", "include required(\"x\")", "-", ".", "a.b = ${a}", "a = ${a} [1]",
    ]), 0..40)) {
        let text: String = parts.concat();
        let _ = parse_str(&text, "p.conf", &no_env);
    }
}
