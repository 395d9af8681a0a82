'use strict';

const fs = require('fs');

module.exports = {
  register() {},

  // Create a full-access API token at start-up and hand it to the test fixture through a file.
  async bootstrap({ strapi }) {
    const target = process.env.BRAINGENEERS_STRAPI_TOKEN_FILE;
    if (!target) return;
    const token = await strapi.service('admin::api-token').create({
      name: `braingeneers-tests-${Date.now()}`,
      description: 'created by the braingeneers-iot test fixture',
      type: 'full-access',
      lifespan: null,
    });
    fs.writeFileSync(`${target}.tmp`, token.accessKey, { mode: 0o600 });
    fs.renameSync(`${target}.tmp`, target);
  },
};
