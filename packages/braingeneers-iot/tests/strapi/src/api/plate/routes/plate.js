'use strict';

// BRAINGENEERS_STRAPI_PUBLIC=1 opens the API without a token, like the lab's internal deployments
// (examples/run_local.py); the tests leave it unset and use the API token.
const open = process.env.BRAINGENEERS_STRAPI_PUBLIC === '1';
const actions = ['find', 'findOne', 'create', 'update', 'delete'];
const config = open ? Object.fromEntries(actions.map((action) => [action, { auth: false }])) : {};

module.exports = require('@strapi/strapi').factories.createCoreRouter('api::plate.plate', { config });
