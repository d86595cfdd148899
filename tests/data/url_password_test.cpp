#include <gtest/gtest.h>

#include "data/feedback_store_backends.h"

namespace mimir::data {
namespace {

TEST(UrlWithoutPassword, DropsThePasswordWhereverItIs) {
    EXPECT_EQ(url_without_password("postgresql://ann:pw@db.example:5432/mimir"),
              "postgresql://ann@db.example:5432/mimir");
    EXPECT_EQ(url_without_password("postgres://ann:p%40ss@db/mimir?sslmode=require&password=x&port=5"),
              "postgres://ann@db/mimir?sslmode=require&port=5");
    EXPECT_EQ(url_without_password("postgresql:///mimir?password=x"), "postgresql:///mimir");
    EXPECT_EQ(url_without_password("postgresql://db/mimir"), "postgresql://db/mimir");
}

}  // namespace
}  // namespace mimir::data
