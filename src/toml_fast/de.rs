//! serde's view of a parsed [`Value`]: what `T::deserialize` reads in
//! [`super::from_str`], the way `toml`'s own deserializer presents a document.

use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};

use super::{Str, Value};

impl<'de> IntoDeserializer<'de, Error> for Value<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self {
            Value::String(Str::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Value::String(Str::Owned(s)) => visitor.visit_str(&s),
            Value::Integer(n) => visitor.visit_i64(n),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Array(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
            Value::Tables(tables) => visitor.visit_seq(SeqDeserializer::new(tables.into_iter().map(Value::Table))),
            Value::Table(t) => visitor.visit_map(MapDeserializer::new(t.entries.into_iter())),
        }
    }

    /// A key that is there is `Some` (a missing one is `None`, by serde).
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// Unit variants by name (`"app"`), as `toml` reads them; other forms go to `toml`.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self {
            Value::String(Str::Borrowed(s)) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
            Value::String(Str::Owned(s)) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::custom("not a variant name")),
        }
    }

    /// `serde_spanned` and `toml_datetime` values need `toml` itself.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name.starts_with("$__") {
            return Err(de::Error::custom("needs toml"));
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool u8 u16 u32 u64 i8 i16 i32 i64 i128 u128 f32 f64 char str string seq
        bytes byte_buf map unit ignored_any unit_struct tuple_struct tuple identifier
    }
}
