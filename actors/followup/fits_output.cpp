#include "actors/followup/fits_output.h"

#include <fitsio.h>

#include "engine/util/fault.h"

namespace ebs::followup {

namespace {
fitsfile* fits(void* file) { return static_cast<fitsfile*>(file); }
}  // namespace

FitsOutput::FitsOutput(const std::filesystem::path& path) : place_(path.string()) {
  const std::string create = "!" + path.string();  // '!': overwrite
  fitsfile* created = nullptr;
  fits_create_file(&created, create.c_str(), &status_);
  file_ = created;
  check("cannot create the file");
  fits_create_img(fits(file_), BYTE_IMG, 0, nullptr, &status_);
  check("cannot write the primary HDU");
}

FitsOutput::~FitsOutput() {
  if (file_) {
    int status = 0;
    fits_close_file(fits(file_), &status);
  }
}

void FitsOutput::check(const std::string& what) {
  if (!status_) return;
  char text[FLEN_STATUS] = {};
  fits_get_errstatus(status_, text);
  fits_clear_errmsg();
  fail(place_, what + ": " + text);
}

void FitsOutput::add_table(const std::string& extname, const std::vector<Column>& columns) {
  std::vector<char*> names, forms, units;
  for (const Column& c : columns) {
    names.push_back(const_cast<char*>(c.name.c_str()));
    forms.push_back(const_cast<char*>(c.form.c_str()));
    units.push_back(const_cast<char*>(c.unit.c_str()));
  }
  fits_create_tbl(fits(file_), BINARY_TBL, 0, static_cast<int>(columns.size()), names.data(), forms.data(), units.data(),
                  extname.c_str(), &status_);
  check("cannot create table " + extname);
}

void FitsOutput::key(const std::string& name, const std::string& value, const std::string& comment) {
  fits_update_key(fits(file_), TSTRING, name.c_str(), const_cast<char*>(value.c_str()),
                  comment.empty() ? nullptr : comment.c_str(), &status_);
  check("cannot write keyword " + name);
}

void FitsOutput::key(const std::string& name, long long value, const std::string& comment) {
  fits_update_key(fits(file_), TLONGLONG, name.c_str(), &value, comment.empty() ? nullptr : comment.c_str(), &status_);
  check("cannot write keyword " + name);
}

void FitsOutput::key(const std::string& name, double value, const std::string& comment) {
  fits_update_key(fits(file_), TDOUBLE, name.c_str(), &value, comment.empty() ? nullptr : comment.c_str(), &status_);
  check("cannot write keyword " + name);
}

void FitsOutput::write(int column, const std::vector<long long>& values) {
  if (values.empty()) return;
  fits_write_col(fits(file_), TLONGLONG, column, 1, 1, static_cast<LONGLONG>(values.size()),
                 const_cast<long long*>(values.data()), &status_);
  check("cannot write column " + std::to_string(column));
}

void FitsOutput::write(int column, const std::vector<double>& values) {
  if (values.empty()) return;
  fits_write_col(fits(file_), TDOUBLE, column, 1, 1, static_cast<LONGLONG>(values.size()),
                 const_cast<double*>(values.data()), &status_);
  check("cannot write column " + std::to_string(column));
}

void FitsOutput::write(int column, const std::vector<char>& logicals) {
  if (logicals.empty()) return;
  fits_write_col(fits(file_), TLOGICAL, column, 1, 1, static_cast<LONGLONG>(logicals.size()),
                 const_cast<char*>(logicals.data()), &status_);
  check("cannot write column " + std::to_string(column));
}

void FitsOutput::close() {
  fits_close_file(fits(file_), &status_);
  file_ = nullptr;
  check("cannot close the file");
}

}  // namespace ebs::followup
