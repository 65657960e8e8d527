fn main() -> Result<(), lambda_http::Error> {
    seclog::http::serve(get_export::GetExport::build)
}
