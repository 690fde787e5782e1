#include "actors/followup/moc_fits.h"

#include "actors/followup/fits_output.h"

namespace ebs::followup {

void write_moc_fits(const Moc& moc, const std::filesystem::path& path,
                    const std::vector<std::pair<std::string, double>>& extra_keys) {
  FitsOutput out(path);
  out.add_table("MOC", {{"UNIQ", moc.max_order > 13 ? "1K" : "1J", ""}});
  out.key("MOCVERS", std::string("2.0"), "MOC version");
  out.key("MOCDIM", std::string("SPACE"), "physical dimension");
  out.key("ORDERING", std::string("NUNIQ"), "NUNIQ coding method");
  out.key("COORDSYS", std::string("C"), "reference frame (C = ICRS)");
  out.key("MOCORD_S", static_cast<long long>(moc.max_order), "MOC resolution (best order)");
  out.key("PIXTYPE", std::string("HEALPIX"), "HEALPix magic code (MOC 1.1)");
  out.key("MOCORDER", static_cast<long long>(moc.max_order), "MOC resolution (MOC 1.1)");
  out.key("MOCTOOL", std::string("ebs-flow"), "name of the MOC generator");
  out.key("MOCTYPE", std::string("IMAGE"), "source type (IMAGE or CATALOG)");
  for (const auto& [name, value] : extra_keys) out.key(name, value);
  out.write(1, std::vector<long long>(moc.uniq.begin(), moc.uniq.end()));
  out.close();
}

}  // namespace ebs::followup
