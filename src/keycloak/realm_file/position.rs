//! Source positions: a path into the document (`clients[1].publicClient`) and the line it
//! stands on, so every error names the file, the line and the field.

use super::RealmFileError;

/// One file's text, to tell where a path stands in it (errors name file, line and field).
pub struct Source<'a> {
    pub text: &'a str,
    /// The path, or the built-in marker.
    pub origin: &'a str,
    pub json: bool,
}

impl Source<'_> {
    /// A content problem at `path`, on the line the path stands on when it can be told.
    pub fn error(&self, path: &[Seg], message: impl Into<String>) -> RealmFileError {
        self.error_on_line(path, self.line_of(path), message)
    }

    /// The 1-based line `path` stands on, if it can be told.
    pub fn line_of(&self, path: &[Seg]) -> Option<usize> {
        locate(self.text, path, self.json)
    }

    /// A content problem at `path`, on a line the caller found.
    pub fn error_on_line(
        &self,
        path: &[Seg],
        line: Option<usize>,
        message: impl Into<String>,
    ) -> RealmFileError {
        RealmFileError::Invalid {
            origin: self.origin.to_string(),
            line,
            field: (!path.is_empty()).then(|| path_string(path)),
            message: message.into(),
        }
    }
}

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

pub fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The 1-based line of `path` in a block-style YAML document (or pretty-printed JSON, by a
/// looser search), if it can be told.
pub fn locate(text: &str, path: &[Seg], json: bool) -> Option<usize> {
    if path.is_empty() {
        return None;
    }
    if json {
        return locate_json(text, path);
    }
    struct Line<'a> {
        no: usize,
        indent: usize,
        content: &'a str,
    }
    let lines: Vec<Line> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let content = l.trim_start();
            (!content.is_empty() && !content.starts_with('#') && content != "---").then(|| Line {
                no: i + 1,
                indent: l.len() - content.len(),
                content,
            })
        })
        .collect();
    // Strip leading `- ` markers: returns (effective indent, rest).
    fn strip_dashes(indent: usize, content: &str) -> (usize, &str) {
        let mut indent = indent;
        let mut rest = content;
        while let Some(r) = rest
            .strip_prefix("- ")
            .or_else(|| (rest == "-").then_some(""))
        {
            let trimmed = r.trim_start();
            indent += 1 + (r.len() - trimmed.len()) + 1;
            rest = trimmed;
        }
        (indent, rest)
    }
    fn key_of(content: &str) -> Option<&str> {
        let (k, _) = content.split_once(':')?;
        let k = k.trim();
        Some(
            k.strip_prefix('"')
                .and_then(|k| k.strip_suffix('"'))
                .or_else(|| k.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
                .unwrap_or(k),
        )
    }

    // The block being searched: lines[start..], with children indented more than `parent`
    // (the first line of a list item is included even though its dash sits at `parent`).
    let mut start = 0usize;
    let mut parent: Option<usize> = None;
    let mut first_included = false;
    let mut found = None;
    for seg in path {
        let in_block = |idx: usize, l: &Line| -> bool {
            (first_included && idx == start) || parent.is_none_or(|p| l.indent > p)
        };
        match seg {
            Seg::Key(key) => {
                let mut hit = None;
                for (idx, l) in lines.iter().enumerate().skip(start) {
                    if !in_block(idx, l) {
                        break;
                    }
                    let (eff, rest) = strip_dashes(l.indent, l.content);
                    if key_of(rest) == Some(key.as_str()) {
                        hit = Some((idx, eff));
                        break;
                    }
                }
                let (idx, eff) = hit?;
                found = Some(lines[idx].no);
                start = idx + 1;
                parent = Some(eff);
                first_included = false;
            }
            Seg::Index(n) => {
                let mut count = 0usize;
                let mut item_indent = None;
                let mut hit = None;
                for (idx, l) in lines.iter().enumerate().skip(start) {
                    let is_item = l.content.starts_with("- ") || l.content == "-";
                    // A sequence may sit at its key's own indentation (`users:\n- name: x`).
                    let compact = is_item && parent.is_some_and(|p| l.indent == p);
                    if !in_block(idx, l) && !compact {
                        break;
                    }
                    if is_item {
                        let ii = *item_indent.get_or_insert(l.indent);
                        if l.indent == ii {
                            if count == *n {
                                hit = Some(idx);
                                break;
                            }
                            count += 1;
                        }
                    }
                }
                match hit {
                    Some(idx) => {
                        found = Some(lines[idx].no);
                        parent = Some(lines[idx].indent);
                        start = idx;
                        first_included = true;
                    }
                    // Flow style (`[a, b]`): the parent key's line is the best we can tell.
                    None => return found,
                }
            }
        }
    }
    found
}

/// JSON: follow the keys in order of appearance (good enough for pretty-printed files).
fn locate_json(text: &str, path: &[Seg]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut from = 0usize;
    let mut found = None;
    for seg in path {
        if let Seg::Key(key) = seg {
            let needle = format!("\"{key}\"");
            let idx = lines
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| l.contains(&needle))
                .map(|(i, _)| i)?;
            found = Some(idx + 1);
            from = idx + 1;
        }
    }
    found
}

/// The line of the `---` that starts a second document: the first document marker after a line
/// of content.
pub fn second_document_line(text: &str) -> Option<usize> {
    let mut content = false;
    for (i, line) in text.lines().enumerate() {
        if content && (line.starts_with("---") || line.starts_with("...")) {
            return Some(i + 1);
        }
        let t = line.trim();
        content |= !t.is_empty() && !t.starts_with('#') && !t.starts_with("---");
    }
    None
}

/// The line of a block mapping's second `key:`, the mapping starting at `line`, `column`
/// (1-based, where serde_yaml places errors in it): keys standing in the mapping's column are
/// counted until the mapping ends.
pub fn duplicate_line(text: &str, line: usize, column: usize, key: &str) -> Option<usize> {
    let col = column.checked_sub(1)?;
    let spellings = [key.to_string(), format!("\"{key}\""), format!("'{key}'")];
    let mut seen = 0;
    for (i, l) in text.lines().enumerate().skip(line.checked_sub(1)?) {
        let t = l.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // The first line may start with the list item's `- `; the others stand under it.
        let lead_ok = |lead: &str| {
            lead.chars()
                .all(|c| c == ' ' || (c == '-' && i + 1 == line))
        };
        match (l.get(..col), l.get(col..)) {
            // Deeper: a child's content.
            (Some(lead), Some(rest)) if lead_ok(lead) && rest.starts_with(' ') => {}
            // A key of this mapping.
            (Some(lead), Some(rest)) if lead_ok(lead) => {
                let is_key = spellings.iter().any(|k| {
                    rest.strip_prefix(k.as_str())
                        .is_some_and(|after| after.trim_start().starts_with(':'))
                });
                seen += usize::from(is_key);
                if seen == 2 {
                    return Some(i + 1);
                }
            }
            // Content further left, or another list item: the mapping has ended.
            _ => return None,
        }
    }
    None
}
