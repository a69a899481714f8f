//! RFC 8785 written straight from a value's `Serialize`, for checking the bytes of every batch
//! the intake receives. The reference encoder (`serde_json_canonicalizer`) gives each object
//! property its own buffers and parses every key back to sort it: a sixth of the intake's CPU
//! per batch (perf, the ingest bench). This writer puts every property in one output buffer as
//! it comes and, where the type's field order is not RFC 8785's, moves the object's properties
//! into order through one scratch buffer.
//!
//! It handles what the protocol's types hold — objects, arrays, strings, integers a double
//! holds exactly, booleans, null — and gives up ([`Unsupported`]) on anything else (a
//! non-integer number, a bigger integer, a non-string key, two equal keys), where the caller
//! uses the reference encoder instead. Its output is the reference encoder's: the
//! `the_direct_check_agrees_with_re_encoding` test and the `canonical_json` fuzz target hold
//! it to that.

use serde::ser::{self, Serialize};

/// The writer gave up on a value the reference encoder must judge.
#[derive(Debug)]
pub struct Unsupported(String);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Unsupported(msg.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Unsupported> {
    Err(Unsupported(format!(
        "{what} is left to the reference encoder"
    )))
}

/// `value` in RFC 8785, strings as they are (the caller checks NFC on the bytes).
pub fn to_vec<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Result<Vec<u8>, Unsupported> {
    let mut writer = Writer {
        out: Vec::with_capacity(capacity),
        scratch: Vec::new(),
    };
    value.serialize(&mut writer)?;
    Ok(writer.out)
}

struct Writer {
    out: Vec<u8>,
    /// Where an object's properties wait while they are written back in order.
    scratch: Vec<u8>,
}

/// The largest integer magnitude a double holds exactly: written as its digits by both
/// encoders. RFC 8785 writes bigger ones as the double nearest them.
const EXACT_IN_A_DOUBLE: u128 = 1 << 53;

impl Writer {
    fn integer(&mut self, value: i128) -> Result<(), Unsupported> {
        if value.unsigned_abs() > EXACT_IN_A_DOUBLE {
            return unsupported("an integer beyond 2^53");
        }
        use std::io::Write;
        write!(self.out, "{value}").map_err(|e| Unsupported(e.to_string()))
    }

    /// serde_json escapes exactly as RFC 8785 does: the quote, the backslash and ASCII
    /// controls, with the same short forms and lowercase `\u00xx`.
    fn string(&mut self, s: &str) -> Result<(), Unsupported> {
        serde_json::to_writer(&mut self.out, s).map_err(|e| Unsupported(e.to_string()))
    }

    fn object(&mut self) -> Object<'_> {
        self.out.push(b'{');
        let start = self.out.len();
        Object {
            writer: self,
            start,
            properties: Vec::new(),
            pending: None,
            in_variant: false,
        }
    }

    fn array(&mut self) -> Array<'_> {
        self.out.push(b'[');
        Array {
            writer: self,
            first: true,
        }
    }
}

enum Key {
    Field(&'static str),
    Owned(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Key::Field(s) => s,
            Key::Owned(s) => s,
        }
    }
}

/// One property written: its key, and where `"key":value` lies in the output.
struct Property {
    key: Key,
    start: usize,
    end: usize,
}

/// RFC 8785's order of keys: by UTF-16 code units (for ASCII, as every field name is, the
/// bytes' order).
fn key_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.as_bytes().cmp(b.as_bytes())
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

struct Object<'a> {
    writer: &'a mut Writer,
    /// Where the first property begins (just after `{`).
    start: usize,
    properties: Vec<Property>,
    /// A map's key written, its value not yet.
    pending: Option<(Key, usize)>,
    /// The fields of a struct variant, inside `{"variant":…}`: closed twice.
    in_variant: bool,
}

impl Object<'_> {
    /// Writes `key` and its colon; the property ends with [`Object::value`].
    fn begin(&mut self, key: Key) -> Result<(), Unsupported> {
        if !self.properties.is_empty() {
            self.writer.out.push(b',');
        }
        let start = self.writer.out.len();
        self.writer.string(key.as_str())?;
        self.writer.out.push(b':');
        self.pending = Some((key, start));
        Ok(())
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        let Some((key, start)) = self.pending.take() else {
            return unsupported("a map value without its key");
        };
        value.serialize(&mut *self.writer)?;
        self.properties.push(Property {
            key,
            start,
            end: self.writer.out.len(),
        });
        Ok(())
    }

    fn end(mut self) -> Result<(), Unsupported> {
        let in_order =
            self.properties.windows(2).try_fold(true, |sorted, pair| {
                match key_order(pair[0].key.as_str(), pair[1].key.as_str()) {
                    std::cmp::Ordering::Equal => unsupported("two equal keys"),
                    order => Ok(sorted && order.is_lt()),
                }
            })?;
        if !in_order {
            self.properties
                .sort_by(|a, b| key_order(a.key.as_str(), b.key.as_str()));
            let writer = &mut *self.writer;
            writer.scratch.clear();
            writer.scratch.extend_from_slice(&writer.out[self.start..]);
            writer.out.truncate(self.start);
            for (i, property) in self.properties.iter().enumerate() {
                if i > 0 {
                    writer.out.push(b',');
                }
                let (from, to) = (property.start - self.start, property.end - self.start);
                writer.out.extend_from_slice(&writer.scratch[from..to]);
            }
        }
        self.writer.out.push(b'}');
        if self.in_variant {
            self.writer.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.begin(Key::Field(key))?;
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        Object::end(self)
    }
}

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        let key = key.serialize(KeyText)?;
        self.begin(Key::Owned(key))
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        Object::end(self)
    }
}

/// `{"variant":{…}}`: one key outside, the variant's fields sorted inside.
impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        ser::SerializeStruct::serialize_field(self, key, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        Object::end(self)
    }
}

struct Array<'a> {
    writer: &'a mut Writer,
    first: bool,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        if !self.first {
            self.writer.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut *self.writer)
    }
}

impl ser::SerializeSeq for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.writer.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        ser::SerializeSeq::end(self)
    }
}

/// `{"variant":[…]}`.
impl ser::SerializeTupleVariant for Array<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.element(value)
    }
    fn end(self) -> Result<(), Unsupported> {
        self.writer.out.extend_from_slice(b"]}");
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Array<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_i128(self, v: i128) -> Result<(), Unsupported> {
        self.integer(v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        self.integer(v.into())
    }
    fn serialize_u128(self, v: u128) -> Result<(), Unsupported> {
        match i128::try_from(v) {
            Ok(v) => self.integer(v),
            Err(_) => unsupported("an integer beyond 2^53"),
        }
    }
    fn serialize_f32(self, _: f32) -> Result<(), Unsupported> {
        unsupported("a non-integer number")
    }
    fn serialize_f64(self, _: f64) -> Result<(), Unsupported> {
        unsupported("a non-integer number")
    }
    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        self.string(v)
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<(), Unsupported> {
        unsupported("raw bytes")
    }
    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.string(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.out.push(b'{');
        self.string(variant)?;
        self.out.push(b':');
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'a>, Unsupported> {
        Ok(self.array())
    }
    fn serialize_tuple(self, _: usize) -> Result<Array<'a>, Unsupported> {
        Ok(self.array())
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Array<'a>, Unsupported> {
        Ok(self.array())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Array<'a>, Unsupported> {
        self.out.push(b'{');
        self.string(variant)?;
        self.out.push(b':');
        Ok(self.array())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Object<'a>, Unsupported> {
        Ok(self.object())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'a>, Unsupported> {
        Ok(self.object())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Object<'a>, Unsupported> {
        self.out.push(b'{');
        self.string(variant)?;
        self.out.push(b':');
        let mut fields = self.object();
        fields.in_variant = true;
        Ok(fields)
    }
}

/// A map's key as text; anything but a string is left to the reference encoder.
struct KeyText;

macro_rules! not_a_string_key {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<String, Unsupported> {
            unsupported("a map key that is not a string")
        })*
    };
}

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Unsupported;
    type SerializeSeq = ser::Impossible<String, Unsupported>;
    type SerializeTuple = ser::Impossible<String, Unsupported>;
    type SerializeTupleStruct = ser::Impossible<String, Unsupported>;
    type SerializeTupleVariant = ser::Impossible<String, Unsupported>;
    type SerializeMap = ser::Impossible<String, Unsupported>;
    type SerializeStruct = ser::Impossible<String, Unsupported>;
    type SerializeStructVariant = ser::Impossible<String, Unsupported>;

    fn serialize_str(self, v: &str) -> Result<String, Unsupported> {
        Ok(v.to_owned())
    }
    fn serialize_char(self, v: char) -> Result<String, Unsupported> {
        Ok(v.to_string())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Unsupported> {
        value.serialize(self)
    }
    not_a_string_key!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<String, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStruct, Unsupported> {
        unsupported("a map key that is not a string")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        unsupported("a map key that is not a string")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Body {
        Answered { zone: String, answers: Vec<u32> },
        Moved(Place),
    }

    #[derive(Serialize)]
    struct Place {
        village: &'static str,
        commune: Option<&'static str>,
    }

    #[derive(Serialize)]
    enum Outer {
        Tuple(u8, bool),
        Fields { z: u8, a: &'static str },
        Wrapped(Place),
        Bare,
    }

    #[test]
    fn writes_what_the_reference_writes_in_any_field_order() {
        let values = [
            serde_json::to_value(Body::Answered {
                zone: "Gio Linh \"x\"\n\u{1}/".into(),
                answers: vec![1, 2],
            })
            .unwrap(),
            serde_json::to_value(Body::Moved(Place {
                village: "Thôn Đông",
                commune: None,
            }))
            .unwrap(),
            serde_json::json!({"é": 1, "e": -9007199254740992_i64, "": [[], {}], "\u{10000}": 2, "\u{E000}": 3}),
        ];
        for value in &values {
            assert_eq!(
                to_vec(value, 0).unwrap(),
                serde_json_canonicalizer::to_vec(value).unwrap()
            );
        }
        let body = Body::Answered {
            zone: "z".into(),
            answers: vec![],
        };
        assert_eq!(
            to_vec(&body, 0).unwrap(),
            serde_json_canonicalizer::to_vec(&body).unwrap()
        );
        for outer in [
            Outer::Tuple(1, true),
            Outer::Fields { z: 1, a: "a" },
            Outer::Wrapped(Place {
                village: "v",
                commune: Some("c"),
            }),
            Outer::Bare,
        ] {
            assert_eq!(
                String::from_utf8(to_vec(&outer, 0).unwrap()).unwrap(),
                String::from_utf8(serde_json_canonicalizer::to_vec(&outer).unwrap()).unwrap()
            );
        }
    }

    #[test]
    fn leaves_to_the_reference_what_it_does_not_write() {
        assert!(to_vec(&1.5_f64, 0).is_err());
        assert!(to_vec(&(1_u64 << 53), 0).is_ok());
        assert!(to_vec(&((1_u64 << 53) + 1), 0).is_err());
        assert!(to_vec(&-((1_i64 << 53) + 1), 0).is_err());
        let numbered: std::collections::BTreeMap<u32, u32> = [(1, 2)].into();
        assert!(to_vec(&numbered, 0).is_err());
        #[derive(Serialize)]
        struct Twice {
            a: u8,
            #[serde(rename = "a")]
            again: u8,
        }
        assert!(to_vec(&Twice { a: 1, again: 2 }, 0).is_err());
    }
}
