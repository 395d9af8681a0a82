'use strict';

// The production shadows-db settings: at most 100 rows per page.
module.exports = {
  rest: { defaultLimit: 100, maxLimit: 100, withCount: true },
};
