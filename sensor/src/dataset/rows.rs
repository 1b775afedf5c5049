//! Column builders of one table, filled a row at a time in the order of the table's columns
//! and turned into record batches. The builders are kept and reused across batches.

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Float64Builder, ListBuilder, StringBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt32Builder, UInt64Builder, UInt8Builder,
};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use super::schema::{list_item, Kind, TableDef};

enum ColBuilder {
    Ts(TimestampNanosecondBuilder),
    U8(UInt8Builder),
    U16(UInt16Builder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F64(Float64Builder),
    Bool(BooleanBuilder),
    Utf8(StringBuilder),
    ListUtf8(ListBuilder<StringBuilder>),
    ListU64(ListBuilder<UInt64Builder>),
}

impl ColBuilder {
    fn new(kind: Kind) -> ColBuilder {
        match kind {
            Kind::Ts => ColBuilder::Ts(TimestampNanosecondBuilder::new().with_timezone("UTC")),
            Kind::U8 => ColBuilder::U8(UInt8Builder::new()),
            Kind::U16 => ColBuilder::U16(UInt16Builder::new()),
            Kind::U32 => ColBuilder::U32(UInt32Builder::new()),
            Kind::U64 => ColBuilder::U64(UInt64Builder::new()),
            Kind::F64 => ColBuilder::F64(Float64Builder::new()),
            Kind::Bool => ColBuilder::Bool(BooleanBuilder::new()),
            Kind::Utf8 => ColBuilder::Utf8(StringBuilder::new()),
            Kind::ListUtf8 => ColBuilder::ListUtf8(
                ListBuilder::new(StringBuilder::new()).with_field(Arc::new(list_item(DataType::Utf8))),
            ),
            Kind::ListU64 => ColBuilder::ListU64(
                ListBuilder::new(UInt64Builder::new()).with_field(Arc::new(list_item(DataType::UInt64))),
            ),
        }
    }

    fn append_null(&mut self) {
        match self {
            ColBuilder::Ts(b) => b.append_null(),
            ColBuilder::U8(b) => b.append_null(),
            ColBuilder::U16(b) => b.append_null(),
            ColBuilder::U32(b) => b.append_null(),
            ColBuilder::U64(b) => b.append_null(),
            ColBuilder::F64(b) => b.append_null(),
            ColBuilder::Bool(b) => b.append_null(),
            ColBuilder::Utf8(b) => b.append_null(),
            ColBuilder::ListUtf8(b) => b.append_null(),
            ColBuilder::ListU64(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColBuilder::Ts(b) => Arc::new(b.finish()),
            ColBuilder::U8(b) => Arc::new(b.finish()),
            ColBuilder::U16(b) => Arc::new(b.finish()),
            ColBuilder::U32(b) => Arc::new(b.finish()),
            ColBuilder::U64(b) => Arc::new(b.finish()),
            ColBuilder::F64(b) => Arc::new(b.finish()),
            ColBuilder::Bool(b) => Arc::new(b.finish()),
            ColBuilder::Utf8(b) => Arc::new(b.finish()),
            ColBuilder::ListUtf8(b) => Arc::new(b.finish()),
            ColBuilder::ListU64(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            ColBuilder::Ts(b) => b.len(),
            ColBuilder::U8(b) => b.len(),
            ColBuilder::U16(b) => b.len(),
            ColBuilder::U32(b) => b.len(),
            ColBuilder::U64(b) => b.len(),
            ColBuilder::F64(b) => b.len(),
            ColBuilder::Bool(b) => b.len(),
            ColBuilder::Utf8(b) => b.len(),
            ColBuilder::ListUtf8(b) => b.len(),
            ColBuilder::ListU64(b) => b.len(),
        }
    }
}

/// The rows of one table not yet handed to the file writer.
pub struct Rows {
    schema: SchemaRef,
    cols: Vec<ColBuilder>,
    cursor: usize,
    rows: usize,
    bytes: usize,
    /// Cells whose value did not match the column type (a programming error caught by the
    /// round-trip tests; written as null rather than stopping the sensor).
    pub mismatches: u64,
}

impl Rows {
    pub fn new(table: &TableDef, schema: SchemaRef) -> Rows {
        Rows {
            schema,
            cols: table.columns.iter().map(|c| ColBuilder::new(c.kind)).collect(),
            cursor: 0,
            rows: 0,
            bytes: 0,
            mismatches: 0,
        }
    }

    /// Complete rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Approximate bytes held (values, not counting builder slack).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn next(&mut self) -> Option<&mut ColBuilder> {
        let i = self.cursor;
        self.cursor += 1;
        self.bytes += 8;
        self.cols.get_mut(i)
    }

    fn mismatch(&mut self) {
        self.mismatches += 1;
        debug_assert!(false, "value does not match column {} of {:?}", self.cursor - 1, self.schema);
        if let Some(c) = self.cols.get_mut(self.cursor - 1) {
            c.append_null();
        }
    }

    /// A timestamp (ns since the Unix epoch).
    pub fn ts(&mut self, v: impl Into<Option<i64>>) {
        match self.next() {
            Some(ColBuilder::Ts(b)) => b.append_option(v.into()),
            _ => self.mismatch(),
        }
    }

    pub fn u8(&mut self, v: impl Into<Option<u8>>) {
        match self.next() {
            Some(ColBuilder::U8(b)) => b.append_option(v.into()),
            _ => self.mismatch(),
        }
    }

    pub fn u16(&mut self, v: impl Into<Option<u16>>) {
        match self.next() {
            Some(ColBuilder::U16(b)) => b.append_option(v.into()),
            _ => self.mismatch(),
        }
    }

    pub fn u32(&mut self, v: impl Into<Option<u32>>) {
        match self.next() {
            Some(ColBuilder::U32(b)) => b.append_option(v.into()),
            _ => self.mismatch(),
        }
    }

    pub fn u64(&mut self, v: impl Into<Option<u64>>) {
        match self.next() {
            Some(ColBuilder::U64(b)) => b.append_option(v.into()),
            _ => self.mismatch(),
        }
    }

    pub fn f64(&mut self, v: impl Into<Option<f64>>) {
        match self.next() {
            Some(ColBuilder::F64(b)) => b.append_option(v.into()),
            _ => self.mismatch(),
        }
    }

    pub fn bool(&mut self, v: impl Into<Option<bool>>) {
        match self.next() {
            Some(ColBuilder::Bool(b)) => b.append_option(v.into()),
            _ => self.mismatch(),
        }
    }

    pub fn str<'a>(&mut self, v: impl Into<Option<&'a str>>) {
        let v = v.into();
        self.bytes += v.map_or(0, str::len);
        match self.next() {
            Some(ColBuilder::Utf8(b)) => b.append_option(v),
            _ => self.mismatch(),
        }
    }

    /// A list of strings.
    pub fn strs<'a, I: IntoIterator<Item = &'a str>>(&mut self, v: I) {
        let mut n = 0;
        match self.next() {
            Some(ColBuilder::ListUtf8(b)) => {
                for s in v {
                    n += s.len() + 4;
                    b.values().append_value(s);
                }
                b.append(true);
            }
            _ => self.mismatch(),
        }
        self.bytes += n;
    }

    /// A list of u64.
    pub fn u64s(&mut self, v: &[u64]) {
        self.bytes += v.len() * 8;
        match self.next() {
            Some(ColBuilder::ListU64(b)) => {
                b.values().append_slice(v);
                b.append(true);
            }
            _ => self.mismatch(),
        }
    }

    /// Ends the current row (every column must have been given a value).
    pub fn end_row(&mut self) {
        debug_assert_eq!(self.cursor, self.cols.len(), "row of {:?} incomplete", self.schema);
        // A short row (a programming error) is padded with nulls so the columns stay aligned.
        while self.cursor < self.cols.len() {
            self.mismatch_pad();
        }
        self.cursor = 0;
        self.rows += 1;
    }

    fn mismatch_pad(&mut self) {
        self.mismatches += 1;
        if let Some(c) = self.cols.get_mut(self.cursor) {
            c.append_null();
        }
        self.cursor += 1;
    }

    /// Takes the rows held as a record batch (the builders are reset and kept).
    pub fn take_batch(&mut self) -> Result<RecordBatch, ArrowError> {
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(ColBuilder::finish).collect();
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
    }

    /// Drops the rows held; returns how many there were.
    pub fn discard(&mut self) -> usize {
        let n = self.rows;
        for c in &mut self.cols {
            // Finishing is the way to empty an Arrow builder.
            if c.len() > 0 {
                let _ = c.finish();
            }
        }
        self.rows = 0;
        self.bytes = 0;
        self.cursor = 0;
        n
    }
}
