'use strict';

module.exports = require('@strapi/strapi').factories.createCoreRouter('api::interaction-thing.interaction-thing');
