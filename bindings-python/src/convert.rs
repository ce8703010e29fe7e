//! Python values to and from the core's JSON values.
//!
//! Requests accept what `json.dumps` would (dict, list, tuple, str, int, float, bool, None) and
//! name the exact place of anything else, so `messages=[object()]` is a clear `TypeError`.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

/// Deeper than this is almost certainly a container that contains itself.
const MAX_DEPTH: usize = 200;

enum Segment {
    Key(String),
    Index(usize),
}

/// Converts `obj` to JSON; `what` names it in errors (`request`, `config`, ...).
pub fn to_value(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    Walker { what, path: Vec::new() }.value(obj)
}

struct Walker<'a> {
    what: &'a str,
    path: Vec<Segment>,
}

impl Walker<'_> {
    fn location(&self) -> String {
        let mut at = self.what.to_owned();
        for segment in &self.path {
            match segment {
                Segment::Key(k) => at.push_str(&format!("[{k:?}]")),
                Segment::Index(i) => at.push_str(&format!("[{i}]")),
            }
        }
        at
    }

    fn value(&mut self, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
        if self.path.len() > MAX_DEPTH {
            return Err(PyValueError::new_err(format!(
                "{}: nested more than {MAX_DEPTH} levels deep (does a list or dict contain itself?)",
                self.location()
            )));
        }
        if obj.is_none() {
            return Ok(Value::Null);
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(Value::String(s.to_cow()?.into_owned()));
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return Ok(Value::Bool(b.is_true()));
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            if let Ok(v) = i.extract::<i64>() {
                return Ok(Value::Number(v.into()));
            }
            if let Ok(v) = i.extract::<u64>() {
                return Ok(Value::Number(v.into()));
            }
            return Err(PyValueError::new_err(format!(
                "{}: the integer {i} does not fit in 64 bits",
                self.location()
            )));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let v = f.value();
            return Number::from_f64(v).map(Value::Number).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "{}: {v} is not a JSON number (NaN and infinity cannot be sent)",
                    self.location()
                ))
            });
        }
        if let Ok(d) = obj.cast::<PyDict>() {
            let mut map = Map::with_capacity(d.len());
            for (k, v) in d.iter() {
                let key = match k.cast::<PyString>() {
                    Ok(s) => s.to_cow()?.into_owned(),
                    Err(_) => {
                        return Err(PyTypeError::new_err(format!(
                            "{}: dict keys must be str, not {}",
                            self.location(),
                            type_name(&k)
                        )));
                    }
                };
                self.path.push(Segment::Key(key.clone()));
                let converted = self.value(&v);
                self.path.pop();
                map.insert(key, converted?);
            }
            return Ok(Value::Object(map));
        }
        if let Ok(list) = obj.cast::<PyList>() {
            return self.sequence(list.iter());
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            return self.sequence(tuple.iter());
        }
        Err(PyTypeError::new_err(format!(
            "{}: cannot send a value of type {}; use str, int, float, bool, None, list or dict",
            self.location(),
            type_name(obj)
        )))
    }

    fn sequence<'py>(&mut self, items: impl Iterator<Item = Bound<'py, PyAny>>) -> PyResult<Value> {
        let mut out = Vec::new();
        for (i, item) in items.enumerate() {
            self.path.push(Segment::Index(i));
            let converted = self.value(&item);
            self.path.pop();
            out.push(converted?);
        }
        Ok(Value::Array(out))
    }
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Converts a JSON value into plain Python objects (dicts keep the JSON key order).
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(key(py, k), to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// A dict key as a Python `str`. The keys of OpenAI's JSON come back in every response and
/// every stream chunk: those are interned (made once, hash cached), which saves an allocation
/// and a hash per key, and lets Python's lookups of them compare by identity.
fn key<'py>(py: Python<'py>, key: &str) -> Bound<'py, PyString> {
    macro_rules! interned {
        ($($known:literal),* $(,)?) => {
            match key {
                $($known => pyo3::intern!(py, $known).clone(),)*
                _ => PyString::new(py, key),
            }
        };
    }
    interned!(
        "id",
        "object",
        "created",
        "model",
        "choices",
        "index",
        "delta",
        "role",
        "content",
        "finish_reason",
        "logprobs",
        "usage",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "tool_calls",
        "function",
        "name",
        "arguments",
        "type",
        "message",
        "refusal",
        "system_fingerprint",
        "service_tier",
        "gateway",
    )
}
