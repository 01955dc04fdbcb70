// A JSON Schema `pattern` as Python's `re.search` reads it (jsonschema and ecert/rules/fastschema.py
// both use it), translated to a JavaScript RegExp with the same matches: `$` also matches before a
// final newline, `.` is anything but a newline, `\d` `\w` `\s` are Unicode classes as in Python,
// `{` that is no quantifier is literal, `(?P<name>` is a named group. Anything whose meaning could
// differ (inline flags, \b, negated classes inside a set, ...) is refused: `translate` returns null
// and the type's schema is then not checked offline.

const SPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const WORD = "\\p{L}\\p{N}_";
const DIGIT = "\\p{Nd}";

function hexEscape(cp) {
  return `\\u{${cp.toString(16)}}`;
}

/** The RegExp source for Python pattern `p`, or null when it cannot be translated faithfully. */
export function translate(p) {
  let out = "";
  let i = 0;
  let inClass = false;
  let classStart = false;
  const n = p.length;
  while (i < n) {
    const c = p[i];
    if (c === "\\") {
      const e = p[i + 1];
      if (e === undefined) return null;
      i += 2;
      if (e === "d") out += inClass ? DIGIT : `[${DIGIT}]`;
      else if (e === "D") { if (inClass) return null; out += `[^${DIGIT}]`; }
      else if (e === "w") out += inClass ? WORD : `[${WORD}]`;
      else if (e === "W") { if (inClass) return null; out += `[^${WORD}]`; }
      else if (e === "s") out += inClass ? SPACE : `[${SPACE}]`;
      else if (e === "S") { if (inClass) return null; out += `[^${SPACE}]`; }
      else if (e === "A") { if (inClass) return null; out += "^"; }
      else if (e === "Z") { if (inClass) return null; out += "$"; }
      else if (e === "n") out += "\\n";
      else if (e === "t") out += "\\t";
      else if (e === "r") out += "\\r";
      else if (e === "f") out += "\\f";
      else if (e === "v") out += "\\v";
      else if (e === "a") out += "\\x07";
      else if (e === "x" || e === "u" || e === "U") {
        const len = e === "x" ? 2 : e === "u" ? 4 : 8;
        const hex = p.slice(i, i + len);
        if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) return null;
        const cp = parseInt(hex, 16);
        if (cp > 0x10ffff) return null;
        out += hexEscape(cp);
        i += len;
      } else if (/[1-9]/.test(e)) {
        if (inClass) return null;
        out += `\\${e}`;
      } else if (/[A-Za-z0-9]/.test(e)) {
        return null; // \b \B \0 \N{...} and unknown letter escapes
      } else {
        out += hexEscape(e.codePointAt(0));
      }
      classStart = false;
      continue;
    }
    if (inClass) {
      if (c === "]" && !classStart) {
        inClass = false;
        out += "]";
      } else if (c === "]" || c === "[" ) {
        out += `\\${c}`;
      } else if (c === "-" || /[A-Za-z0-9 ]/.test(c)) {
        out += c;
      } else {
        out += hexEscape(c.codePointAt(0));
      }
      classStart = false;
      i += c.length;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += "[";
      i += 1;
      if (p[i] === "^") {
        out += "^";
        i += 1;
      }
      classStart = true;
      continue;
    }
    if (c === "$") out += "(?=\\n?$)";
    else if (c === ".") out += "[^\\n]";
    else if (c === "{") {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(p.slice(i));
      if (m && (m[1] !== "" || (m[2] === "," && m[3] !== ""))) {
        out += `{${m[1] || "0"}${m[2]}${m[3]}}`;
        i += m[0].length;
        continue;
      }
      out += "\\{";
    } else if (c === "}") out += "\\}";
    else if (c === "(") {
      if (p[i + 1] === "?") {
        const rest = p.slice(i + 2);
        if (rest.startsWith(":") || rest.startsWith("=") || rest.startsWith("!") || rest.startsWith("<=")
            || rest.startsWith("<!")) {
          out += "(";
        } else if (/^P<[A-Za-z_][A-Za-z0-9_]*>/.test(rest)) {
          const name = /^P<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest)[1];
          out += `(?<${name}>`;
          i += 4 + name.length + 1;
          continue;
        } else {
          return null; // inline flags, comments, conditionals, (?P=name), atomic groups
        }
      } else {
        out += "(";
      }
    } else if ("*+?|)^".includes(c)) {
      if ((c === "+" || c === "*" || c === "?" || c === "}") && p[i + 1] === "+") return null; // possessive
      out += c;
    } else if (/[A-Za-z0-9 ]/.test(c)) out += c;
    else out += hexEscape(c.codePointAt(0));
    i += 1;
  }
  if (inClass) return null;
  return out;
}

/** A search function for Python pattern `p` (true when it matches anywhere), or null. */
export function compilePattern(p) {
  const source = typeof p === "string" ? translate(p) : null;
  if (source === null) return null;
  try {
    const re = new RegExp(source, "u");
    return (s) => re.test(s);
  } catch {
    return null;
  }
}
