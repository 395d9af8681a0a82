'use strict';

// Start Strapi on this directory's config and src without the CLI (no admin build, no telemetry).
const path = require('path');

const appDir = process.env.BRAINGENEERS_STRAPI_APP_DIR || __dirname;
require('@strapi/strapi')({ appDir, distDir: appDir }).start();
