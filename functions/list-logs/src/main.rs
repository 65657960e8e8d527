fn main() -> Result<(), lambda_http::Error> {
    seclog::http::serve(list_logs::ListLogs::build)
}
