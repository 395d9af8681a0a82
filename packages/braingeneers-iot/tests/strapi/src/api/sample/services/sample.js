'use strict';

module.exports = require('@strapi/strapi').factories.createCoreService('api::sample.sample');
