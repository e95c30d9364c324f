# The index of a cachepack bundle (docs/FORMAT.md, section "Index"). It is
# the only structured part of the file: everything a reader needs to find,
# check and decompress one entry without touching the others.
@0x87b403f830c2cbcd;

$import "/capnp/c++.capnp".namespace("cachepack::bundle::schema");

enum Codec {
  raw @0;   # Stored bytes are the original bytes.
  zstd @1;  # One zstd frame (with the entry's dictionary, if any).
}

# A piece of an entry compressed on its own, so large entries can be
# decompressed in parallel and partially. Entries of at most one chunk size
# have no chunk list.
struct Chunk {
  storedSize @0 :UInt64;
  originalSize @1 :UInt64;
  codec @2 :Codec;
  xxh3High @3 :UInt64;  # XXH3-128 of this chunk's stored bytes.
  xxh3Low @4 :UInt64;
}

struct Entry {
  typeId @0 :UInt32;         # Index into BundleIndex.types.
  key @1 :Data;              # Opaque bytes (PyTorch keys are UTF-8).
  offset @2 :UInt64;         # File offset of the first stored byte.
  storedSize @3 :UInt64;     # Stored bytes, contiguous from offset.
  originalSize @4 :UInt64;   # Content bytes after decompression.
  codec @5 :Codec;           # Codec of a single-chunk entry.
  xxh3High @6 :UInt64;       # XXH3-128 of all stored bytes.
  xxh3Low @7 :UInt64;
  sha256 @8 :Data;           # SHA-256 of the original content (32 bytes).
  dictionary @9 :UInt32;     # 0: none; n: BundleIndex.dictionaries[n-1].
  chunks @10 :List(Chunk);   # Empty for single-chunk entries.
  # 0: the entry is stored on its own (above). n: its content is the
  # originalSize bytes at `offset` of BundleIndex.blocks[n-1]'s decompressed
  # bytes; storedSize, codec, xxh3 and dictionary are then 0 and chunks
  # empty. Only in bundles whose header has the solid-blocks flag.
  block @11 :UInt32;
}

# A solid block: consecutive small entries compressed together as one zstd
# frame (or stored raw), so that matches across entries are found.
struct Block {
  offset @0 :UInt64;        # File offset of the first stored byte.
  storedSize @1 :UInt64;
  originalSize @2 :UInt64;  # Decompressed bytes: its entries, back to back.
  codec @3 :Codec;
  xxh3High @4 :UInt64;      # XXH3-128 of the stored bytes.
  xxh3Low @5 :UInt64;
}

struct KeyValue {
  key @0 :Text;
  value @1 :Text;
}

struct Metadata {
  producer @0 :Text;
  producerVersion @1 :Text;
  hasCreationTime @2 :Bool;
  creationUnixSeconds @3 :Int64;
  user @4 :List(KeyValue);   # Sorted by key, keys unique.
}

# A zstd dictionary trained from one type's entries.
struct Dictionary {
  type @0 :Text;
  content @1 :Data;
}

# A run of consecutive entries that formed one group of a PyTorch Mega-Cache
# blob; kept so blob -> bundle -> blob reproduces the blob byte for byte.
struct Group {
  typeId @0 :UInt32;
  count @1 :UInt64;
}

struct BundleIndex {
  types @0 :List(Text);           # Distinct type names, first-use order.
  entries @1 :List(Entry);        # Stored (insertion) order.
  lookup @2 :List(UInt32);        # Entry positions sorted by (type, key, position).
  metadata @3 :Metadata;
  dictionaries @4 :List(Dictionary);
  groups @5 :List(Group);         # Empty, or a partition of entries.
  chunkSize @6 :UInt64;           # Chunk size the writer used.
  blocks @7 :List(Block);         # Solid blocks, numbered from 1 by entries.
  solidBlockSize @8 :UInt64;      # Block size the writer used (0: none).
}
