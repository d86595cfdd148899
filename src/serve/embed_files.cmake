# Build-time step (cmake -P): turns the files listed in MANIFEST (lines "url-path<TAB>file") into OUTPUT,
# a C++ source defining mimir::serve::generated::kEmbeddedFiles. Run by src/serve/CMakeLists.txt.
file(STRINGS "${MANIFEST}" entries)
set(arrays "")
set(table "")
set(index 0)
foreach(entry IN LISTS entries)
  string(REPLACE "\t" ";" parts "${entry}")
  list(GET parts 0 url_path)
  list(GET parts 1 file_path)
  file(READ "${file_path}" hex HEX)
  file(SIZE "${file_path}" size)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND arrays "static const unsigned char file_${index}[] = {${bytes}0x00};\n")
  string(APPEND table "    {\"${url_path}\", file_${index}, ${size}},\n")
  math(EXPR index "${index} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from web/ by src/serve/embed_files.cmake; do not edit.\n"
  "#include \"serve/static_assets.h\"\n\nnamespace mimir::serve::generated {\nnamespace {\n${arrays}}\n"
  "extern const EmbeddedFile kEmbeddedFiles[] = {\n${table}};\n"
  "extern const size_t kEmbeddedFileCount = ${index};\n}  // namespace mimir::serve::generated\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
