// The verify pass of a bundle reader: the structural checks that
// verify_structure() runs without decompressing anything (footer chain,
// byte coverage, lookup order, groups, signatures), and verify_entry() and
// verify_all(), which also decompress and check both digests.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "cachepack/bundle_format.h"
#include "cachepack/bundle_reader.h"
#include "serializer/bundle.capnp.h"
#include "serializer/bundle_reader_state.h"

namespace cachepack::bundle {

// The byte ranges that the footers describe: the header, then each
// version's index, signature block and footer, newest first, following
// previous_footer_offset. Each earlier footer must be intact, lie before the
// one that names it, and match its index.
Result<std::vector<BundleReader::State::Span>>
BundleReader::State::version_spans() const {
  std::vector<Span> spans;
  spans.push_back({0, kHeaderSize, "header"});
  auto add_version = [&](const Footer& f, uint64_t at) {
    spans.push_back({f.index_offset, f.index_offset + f.index_size, "index"});
    if (f.signature_count > 0) {
      spans.push_back(
          {f.signatures_offset,
           f.signatures_offset + f.signature_count * kSignatureRecordSize,
           "signatures"});
    }
    spans.push_back({at, at + kFooterSize, "footer"});
  };
  add_version(footer, footer_offset);
  for (uint64_t at = footer.previous_footer_offset, prev = footer_offset;
       at != 0;) {
    if (at >= prev) {
      return located(ErrorReason::kBadFooter, at,
                     "previous-footer chain does not go backwards");
    }
    CP_ASSIGN_OR_RETURN(Footer f, named(decode_footer(data, at)));
    if (xxh3_128(data.subspan(f.index_offset, f.index_size)) != f.index_xxh3) {
      return located(ErrorReason::kChecksumMismatch, f.index_offset,
                     "earlier index does not match its footer");
    }
    add_version(f, at);
    prev = at;
    at = f.previous_footer_offset;
  }
  return spans;
}

Result<void> BundleReader::check_footer_chain() const {
  CP_TRY(s_->version_spans());
  return {};
}

Result<void> BundleReader::check_byte_coverage() const {
  uint64_t end = s_->footer_offset + kFooterSize;
  if (s_->ignored_tail > 0 && !s_->options.allow_older_version) {
    return s_->located(ErrorReason::kTrailingBytes, end,
                       std::to_string(s_->ignored_tail) +
                           " bytes after the last valid footer");
  }
  CP_ASSIGN_OR_RETURN(auto spans, s_->version_spans());
  CP_ASSIGN_OR_RETURN(auto list, entries());
  for (const EntryInfo& e : list) {
    if (e.stored_size > 0) {
      spans.push_back({e.offset, e.offset + e.stored_size, "entry"});
    }
  }
  CP_ASSIGN_OR_RETURN(auto blocks, this->blocks());
  for (const ChunkInfo& b : blocks) {
    if (b.stored_size > 0) {
      spans.push_back({b.offset, b.offset + b.stored_size, "solid block"});
    }
  }
  return s_->check_tiling(std::move(spans), end);
}

// `spans`, in order of where they start, cover [0, end) without
// overlapping; between two of them lie only fewer than kAlignment zero
// padding bytes. A span listed twice (an index that two versions share,
// after sign) counts once.
Result<void> BundleReader::State::check_tiling(std::vector<Span> spans,
                                               uint64_t end) const {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    const Span& r = spans[i];
    if (i > 0 && r.begin == spans[i - 1].begin && r.end == spans[i - 1].end) {
      continue;
    }
    if (r.begin < cursor) {
      return located(ErrorReason::kBadIndex, r.begin,
                     std::string(r.what) + " overlaps the bytes before it");
    }
    if (r.begin > cursor) {
      uint64_t gap = r.begin - cursor;
      bool zero = gap < kAlignment;
      for (uint64_t p = cursor; zero && p < r.begin; ++p) {
        zero = data[p] == std::byte{0};
      }
      if (!zero) {
        return located(ErrorReason::kBadIndex, cursor,
                       std::to_string(gap) +
                           " bytes belong to nothing (padding must be "
                           "fewer than " +
                           std::to_string(kAlignment) + " zero bytes)");
      }
    }
    cursor = r.end;
  }
  if (cursor != end) {
    return located(ErrorReason::kTrailingBytes, cursor,
                   "bytes after the footer");
  }
  return {};
}

Result<void> BundleReader::check_lookup_order() const {
  std::vector<std::string> sorted_types = s_->types;
  std::sort(sorted_types.begin(), sorted_types.end());
  if (std::adjacent_find(sorted_types.begin(), sorted_types.end()) !=
      sorted_types.end()) {
    return s_->located(ErrorReason::kBadIndex, s_->footer.index_offset,
                       "type names repeat");
  }
  return s_->named(
      s_->with_index([&](schema::BundleIndex::Reader root) -> Result<void> {
        auto lookup = root.getLookup();
        auto es = root.getEntries();
        std::vector<bool> seen(es.size());
        for (size_t i = 0; i < lookup.size(); ++i) {
          uint32_t p = lookup[i];
          if (p >= es.size() || seen[p]) {
            return s_->located(
                ErrorReason::kBadIndex, s_->footer.index_offset,
                "lookup table is not a permutation of the entries");
          }
          seen[p] = true;
          if (i == 0) continue;
          uint32_t q = lookup[i - 1];
          int c = State::compare_to(es[q], es[p].getTypeId(),
                                    State::key_view(es[p]));
          if (c > 0 || (c == 0 && q > p)) {
            return s_->located(ErrorReason::kBadIndex, s_->footer.index_offset,
                               "lookup table is not sorted");
          }
        }
        return {};
      }));
}

Result<void> BundleReader::check_groups() const {
  return s_->named(
      s_->with_index([&](schema::BundleIndex::Reader root) -> Result<void> {
        auto es = root.getEntries();
        auto groups = root.getGroups();
        if (groups.size() == 0) return {};
        std::vector<uint64_t> counts;
        for (auto g : groups) counts.push_back(g.getCount());
        auto problem =
            group_partition_error(counts, es.size(), [&](size_t g, uint64_t e) {
              return es[e].getTypeId() == groups[g].getTypeId();
            });
        if (problem) {
          return s_->located(ErrorReason::kBadIndex, s_->footer.index_offset,
                             std::string(*problem));
        }
        return {};
      }));
}

Result<void> BundleReader::check_blocks() const {
  CP_ASSIGN_OR_RETURN(auto blocks, this->blocks());
  CP_ASSIGN_OR_RETURN(auto list, entries());
  // Where the next entry of each block must start.
  std::vector<uint64_t> filled(blocks.size(), 0);
  for (const EntryInfo& e : list) {
    if (e.block == 0) continue;
    uint64_t& next = filled[e.block - 1];
    if (e.block_offset != next) {
      return make_error(
          ErrorCode::kDataLoss, ErrorReason::kBadIndex,
          "entry " + std::to_string(e.position) + " starts at " +
              std::to_string(e.block_offset) + " of solid block " +
              std::to_string(e.block) + ", where " + std::to_string(next) +
              " bytes are taken (entries " +
              (e.block_offset < next ? "overlap" : "leave a gap") + ")",
          ErrorLocation{.file = s_->path,
                        .offset = s_->footer.index_offset,
                        .key = e.key});
    }
    next += e.original_size;
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (filled[i] != blocks[i].original_size) {
      return s_->located(ErrorReason::kBadIndex, blocks[i].offset,
                         "solid block " + std::to_string(i + 1) + " holds " +
                             std::to_string(blocks[i].original_size) +
                             " bytes but its entries add up to " +
                             std::to_string(filled[i]));
    }
  }
  return {};
}

Result<void> BundleReader::check_signatures() const {
  for (const SignatureInfo& sig : s_->signatures) {
    if (!sig.valid) {
      return s_->located(ErrorReason::kSignature, s_->footer.signatures_offset,
                         "a signature does not verify");
    }
  }
  return {};
}

Result<VerifyReport> BundleReader::verify_structure() const {
  for (auto check :
       {&BundleReader::check_footer_chain, &BundleReader::check_byte_coverage,
        &BundleReader::check_lookup_order, &BundleReader::check_groups,
        &BundleReader::check_blocks, &BundleReader::check_signatures}) {
    CP_TRY((this->*check)());
  }
  CP_ASSIGN_OR_RETURN(auto list, entries());
  VerifyReport report;
  report.entries = list.size();
  for (const EntryInfo& e : list) {
    report.original_bytes += e.original_size;
    report.stored_bytes += e.stored_size;
  }
  CP_ASSIGN_OR_RETURN(auto blocks, this->blocks());
  for (const ChunkInfo& b : blocks) report.stored_bytes += b.stored_size;
  for (const SignatureInfo& sig : s_->signatures) {
    ++report.valid_signatures;  // check_signatures: all are valid.
    for (const PublicKey& key : s_->options.trusted_keys) {
      if (key == sig.public_key) {
        ++report.trusted_signatures;
        break;
      }
    }
  }
  return report;
}

Result<void> BundleReader::verify_entry(size_t position) const {
  CP_ASSIGN_OR_RETURN(auto e, entry(position));
  auto fail = [&](std::string what, uint64_t at) {
    return make_error(
        ErrorCode::kDataLoss, ErrorReason::kChecksumMismatch, std::move(what),
        ErrorLocation{.file = s_->path, .offset = at, .key = e.key});
  };
  if (e.chunks.size() > 1) {
    for (size_t i = 0; i < e.chunks.size(); ++i) {
      const ChunkInfo& c = e.chunks[i];
      if (xxh3_128(s_->data.subspan(c.offset, c.stored_size)) != c.xxh3) {
        return fail("chunk " + std::to_string(i) + " of entry " +
                        std::to_string(position) +
                        " does not match its XXH3-128",
                    c.offset);
      }
    }
  }
  CP_ASSIGN_OR_RETURN(auto content, read(e));
  if (sha256(content) != e.sha256) {
    return fail("content of entry " + std::to_string(position) +
                    " does not match its SHA-256",
                e.offset);
  }
  return {};
}

Result<VerifyReport> BundleReader::verify_all() const {
  auto report = verify_structure();
  if (!report) return report;
  for (size_t i = 0; i < size(); ++i) {
    CP_TRY(verify_entry(i));
  }
  // Every byte of each block's frame, not only the entries' prefixes.
  CP_ASSIGN_OR_RETURN(auto blocks, this->blocks());
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (auto ok =
            s_->solid_blocks->finish(static_cast<uint32_t>(i + 1), blocks[i]);
        !ok) {
      return tl::unexpected(std::move(ok.error()).in_file(s_->path));
    }
  }
  return report;
}

}  // namespace cachepack::bundle
