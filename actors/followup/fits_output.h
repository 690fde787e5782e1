// Writing FITS binary tables with cfitsio for the follow-up exports (MOCs, GADF light curves and
// HPX maps): one object per output file, faults naming the file and cfitsio's reason.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ebs::followup {

class FitsOutput {
 public:
  // Creates (overwrites) `path` with an empty primary HDU.
  explicit FitsOutput(const std::filesystem::path& path);
  ~FitsOutput();
  FitsOutput(const FitsOutput&) = delete;
  FitsOutput& operator=(const FitsOutput&) = delete;

  struct Column {
    std::string name, form, unit;  // form as TFORM: "1K", "D", "3D", "3L"
  };
  // Appends a BINTABLE HDU and makes it current.
  void add_table(const std::string& extname, const std::vector<Column>& columns);
  void key(const std::string& name, const std::string& value, const std::string& comment = "");
  void key(const std::string& name, long long value, const std::string& comment = "");
  void key(const std::string& name, double value, const std::string& comment = "");
  // Column `column` (1-based) of the current table, from row 1; `values` row-major for vectors.
  void write(int column, const std::vector<long long>& values);
  void write(int column, const std::vector<double>& values);
  void write(int column, const std::vector<char>& logicals);  // 0 / 1
  // Closes the file; a fault if anything failed.
  void close();

 private:
  void check(const std::string& what);
  std::string place_;
  void* file_ = nullptr;  // cfitsio's fitsfile (an anonymous struct: no forward declaration)
  int status_ = 0;
};

}  // namespace ebs::followup
