// Test helper: Python shared by the follow-up oracles (run with Debian's /usr/bin/python3): reading
// a multi-order sky map with astropy and finding the cell of a direction with healpy, written
// once so that every oracle reads maps the same independent way.
#pragma once

#include <string>

namespace ebs::test {

inline const std::string multiorder_prelude = R"PY(
import numpy as np
from astropy.io import fits
import healpy as hp

def read_multiorder(path):
    """The first table of a multi-order map: the table, UNIQ, order and nested index per row."""
    t = fits.open(path)[1].data
    uniq = np.asarray(t['UNIQ'], dtype=np.int64)
    order = (np.floor(np.log2(uniq)).astype(np.int64) // 2) - 1
    return t, uniq, order, uniq - (np.int64(4) << (2 * order))

def rows_at(order, ipix, ra, dec):
    """The row of the cell holding each direction (deg), by healpy at the maximum order."""
    top = int(order.max())
    start = ipix << (2 * (top - order))
    sort = np.argsort(start)
    pix = hp.ang2pix(2 ** top, 0.5 * np.pi - np.deg2rad(dec), np.deg2rad(ra), nest=True)
    return sort[np.searchsorted(start[sort], pix, side='right') - 1]
)PY";

}  // namespace ebs::test
