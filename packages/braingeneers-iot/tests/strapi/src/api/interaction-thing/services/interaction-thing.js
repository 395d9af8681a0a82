'use strict';

module.exports = require('@strapi/strapi').factories.createCoreService('api::interaction-thing.interaction-thing');
