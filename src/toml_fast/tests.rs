use super::cursor::{is_control, next_control};
use super::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde::Deserialize;

/// The fast path's view of `text`, as a `toml::Value` (to compare with `toml`'s).
fn fast(text: &str) -> Option<toml::Table> {
    let table = parse(text)?;
    Some(toml::Table::deserialize(Value::Table(table)).expect("a parsed table is a table"))
}

/// Lines made of the pieces where the subset's edges are: repeated keys
/// and tables, every kind of value in and out of the subset, comments,
/// CRLF, odd spacing.
fn line() -> impl Strategy<Value = String> {
    fn pick(good: &[&'static str], bad: &[&'static str]) -> impl Strategy<Value = &'static str> + Clone {
        prop_oneof![6 => prop::sample::select(good.to_vec()), 1 => prop::sample::select(bad.to_vec())]
    }
    let key = pick(&["a", "b", "version", "x-y_1", "7"], &["\"a\"", "a.b", "", "a b"]);
    let value = pick(
        &[
            "1",
            "-0",
            "+5",
            "9223372036854775807",
            "true",
            "false",
            "\"s\"",
            "\"es\\\"c\\n\"",
            "'lit'",
            "[]",
            "[1, 'a',]",
            "[\n1, # c\n2\n]",
            "\"tab\there\"",
            "\"ünï\"",
        ],
        &[
            "01",
            "1_0",
            "1.0",
            "9223372036854775808",
            "falsey",
            "\"\\u0041\"",
            "'''m'''",
            "\"\"\"m\"\"\"",
            "[[1]]",
            "{ a = 1 }",
            "1979-05-27",
            "\"\u{1}\"",
            "nan",
            "\"open",
            "1 2",
        ],
    );
    let space = prop::sample::select(vec!["", " ", "  ", "\t"]);
    let end = pick(&["\n", "\r\n", " # note\n"], &["#c\n", "\r", "", " # \u{7}\n"]);
    prop_oneof![
        6 => (key.clone(), space.clone(), value, end.clone()).prop_map(|(k, s, v, e)| format!("{k}{s}={s}{v}{e}")),
        2 => (key.clone(), end.clone()).prop_map(|(k, e)| format!("[{k}]{e}")),
        1 => (key.clone(), key.clone(), end.clone()).prop_map(|(k, j, e)| format!("[{k}.{j}]{e}")),
        1 => (key, end.clone()).prop_map(|(k, e)| format!("[[{k}]]{e}")),
        1 => (space, end).prop_map(|(s, e)| format!("{s}{e}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn whatever_the_fast_path_accepts_toml_reads_the_same(lines in prop::collection::vec(line(), 0..10)) {
        agrees_with_toml(&lines.concat());
    }
}

proptest! {
    #[test]
    fn next_control_finds_the_first_control_byte(bytes in prop::collection::vec(prop_oneof![
        4 => 0x20u8..0x7f, 1 => any::<u8>(), 1 => prop::sample::select(vec![0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff])
    ], 0..40)) {
        let naive = bytes.iter().position(|&b| is_control(b)).unwrap_or(bytes.len());
        prop_assert_eq!(next_control(&bytes), naive);
    }
}

/// The proptest's inputs reach the fast path often enough to mean something.
#[test]
fn the_generated_texts_often_take_the_fast_path() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(line(), 1..6);
    let taken =
        (0..400).filter(|_| parse(&strategy.new_tree(&mut runner).unwrap().current().concat()).is_some()).count();
    assert!(taken > 100, "only {taken} of 400 texts took the fast path");
}

#[track_caller]
fn same_as_toml(text: &str) {
    let mine = fast(text).unwrap_or_else(|| panic!("fast path gave up on {text:?}"));
    assert_eq!(Ok(mine), toml::from_str::<toml::Table>(text).map_err(|e| e.to_string()), "{text:?}");
}

#[track_caller]
fn left_to_toml(text: &str) {
    assert!(parse(text).is_none(), "fast path took {text:?}");
}

#[test]
fn the_files_twostep_writes_take_the_fast_path_and_read_the_same() {
    same_as_toml("");
    same_as_toml("version = 1\nsecret = \"JBSWY3DPEHPK3PXP\"\nenabled = true\ncreated = 1763880000\n");
    same_as_toml(
        "version = 3\nfailures = [1, 2, 3]\nlast_step = 5\ngrace_used = 0\n\n[email_code]\nhash = \"ab\"\nsalt = \"cd\"\nsent_at = 1\n",
    );
    same_as_toml(
        "version = 3\nenabled = false\n\n[[backup_codes]]\nsalt = \"a\"\nhash = \"b\"\n\n[[backup_codes]]\nsalt = \"c\"\nhash = \"d\"\n\n[bypass]\nby = \"jo \\\"x\\\"\"\n",
    );
    same_as_toml("failures = []\nempty = \"\"\nneg = -5\nplus = +7\nzero = 0\n");
}

#[test]
fn admin_written_config_takes_the_fast_path_and_reads_the_same() {
    same_as_toml(
        "# comment\r\nissuer = 'Example \"District\"'   # trailing comment\n\n[totp]\ndigits = 6\t# six\n\n[email]\ncommand = [\n  \"/usr/bin/msmtp\", # the mailer\n  \"-t\",\n]\n[services.sshd]\nexempt = true\n[services.login]\nrequired = false\n",
    );
    same_as_toml("[a.b]\nx = 1\n[a.c]\ny = [true, false, 'x', \"\\t\\n\\r\\\\\"]\n");
    same_as_toml("k = \"ünïcødé ✓\"\n");
}

#[test]
fn what_the_subset_does_not_cover_is_left_to_toml() {
    for text in [
        "a = 1.5",
        "a = 1e3",
        "a = 1_000",
        "a = 0x10",
        "a = 01",
        "a = 1979-05-27",
        "a = inf",
        "a = { b = 1 }",
        "a = [[1], [2]]",
        "a = \"\"\"x\"\"\"",
        "a = '''x'''",
        "a = \"\\u00e9\"",
        "a = \"\\e\"",
        "\"quoted\" = 1",
        "a.b = 1",
        "a = 1\na = 2",
        "[a]\n[a]",
        "[a.b]\n[a]",
        "a = 1\n[a]",
        "[[a]]\n[a]",
        "[a]\n[[a]]",
        "[ a ]",
        "[a]x = 1",
        "a = 1#c",
        "a = 1 2",
        "a = \"x\" y",
        "a = \"unterminated",
        "a = \"tab\tok but \u{1}not\"",
        "# bell \u{7}",
        "a = 1\rb = 2",
        "a =",
        "= 1",
        "a = 99999999999999999999",
        "\u{feff}a = 1",
        "[[a.b]]\n[a.b.c]",
    ] {
        left_to_toml(text);
    }
}

/// Runs of comment lines are read in one scan: every way a run goes on or
/// ends, and a bad byte anywhere in it.
#[test]
fn comment_runs_read_the_same_and_refuse_what_toml_refuses() {
    let run = "# a\n#\tb\n#\n# c\r\n#d\n\n  # e\n\t# f\nk = 1 # g\n# h\n#";
    same_as_toml(run);
    same_as_toml(&format!("{run}\n"));
    same_as_toml(&format!("# {}\n# x\nk = 'v'\n", "long ".repeat(40)));
    for bad in ["\u{7}", "\r", "\u{7f}", "\u{0}"] {
        for line in 0..3 {
            let mut lines = ["# one", "# two", "# three"];
            let with = format!("# t{bad}wo");
            lines[line] = &with;
            let text = lines.join("\n") + "\nk = 1\n";
            left_to_toml(&text);
            assert!(toml::from_str::<toml::Table>(&text).is_err(), "{text:?}");
        }
    }
}

/// Found by the fuzz target: toml refuses a header of 80 keys or more
/// ("recursion limit"); the fast path leaves deep headers to it.
#[test]
fn deep_headers_are_left_to_toml() {
    same_as_toml("[a.b.c.d.e.f.g.h]\nx = 1\n");
    let deep = |n: usize| format!("[{}]\nx = 1\n", vec!["k"; n].join("."));
    left_to_toml(&deep(MAX_HEADER_DEPTH + 1));
    left_to_toml(&deep(100));
    agrees_with_toml(&deep(100));
}

#[test]
fn a_value_that_does_not_fit_the_type_gets_tomls_error() {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct T {
        #[allow(dead_code)]
        n: u32,
    }
    let mine = from_str::<T>("n = 1\nextra = 2\n").unwrap_err().to_string();
    let theirs = toml::from_str::<T>("n = 1\nextra = 2\n").unwrap_err().to_string();
    assert_eq!(mine, theirs);
    assert!(from_str::<T>("n = -1\n").is_err());
    assert!(from_str::<T>("n = 4294967296\n").is_err());
    assert_eq!(from_str::<T>("n = 4294967295\n").unwrap().n, u32::MAX);
}
