'use strict';

module.exports = require('@strapi/strapi').factories.createCoreController('api::interaction-thing.interaction-thing');
