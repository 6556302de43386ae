-- name: MethodsInCurrency :many
SELECT m.code, m.name, m.description, m.estimated_days, r.currency, r.amount
FROM shipping_methods m
JOIN shipping_rates r ON r.method_code = m.code
WHERE m.active AND r.currency = @currency
ORDER BY m.position, m.code;

-- name: Currencies :many
SELECT DISTINCT r.currency
FROM shipping_rates r
JOIN shipping_methods m ON m.code = r.method_code
WHERE m.active
ORDER BY r.currency;

-- name: MethodActive :one
SELECT EXISTS (SELECT 1 FROM shipping_methods WHERE code = @code AND active);
